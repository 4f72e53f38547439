//! The plugin kit for [rustplug](https://github.com/) hosts: what a Rust library needs to be a
//! well-behaved plugin that Node loads at run time.
//!
//! * [`ffi`]: the async-ffi 0.5 types (`FfiFuture`, `FfiPoll`, `FfiContext`, the waker vtable),
//!   ABI-identical to the `async-ffi` crate (`ABI_VERSION` 2), and streams ([`stream`]).
//!   Everything is re-exported at the crate root, so `use rustplug_plugin::{FfiFuture, FutureExt}`.
//! * [`runtime`] (feature `runtime`, on by default): one tokio multi-thread runtime per copy of
//!   this crate — the plugin's own in a cdylib, or the one every module shares when the kit lives
//!   in a Rust dylib they all link — and a future adapter that polls inside it.
//! * [`panic`]: a panic inside a future's poll reaches the host with its message and location
//!   (`PluginPanicError.message` in rustplug), not only on stderr.
//! * [`manifest!`] and [`build`]: the `RUSTPLUG_MANIFEST` data symbol, a NUL-terminated JSON
//!   object built from build-time facts (rustc, target, shared crates' versions and features)
//!   that rustplug reads from the file before loading it.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod build;
pub mod ffi;
#[doc(hidden)]
pub mod manifest;
pub mod panic;
#[cfg(feature = "runtime")]
pub mod runtime;

pub use ffi::{stats, stream, DropFn, FfiContext, FfiFuture, FfiPoll, FfiWakerBase, FfiWakerVTable, FutureExt, LocalFfiFuture, PollFn, ABI_VERSION};
#[cfg(feature = "runtime")]
pub use runtime::RuntimeExt;
/// The tokio this kit was built with: in a set of modules that share one copy of tokio through a
/// Rust dylib, every module reaches tokio through this re-export (never as its own dependency).
#[cfg(feature = "runtime")]
pub use tokio;
