//! One tokio multi-thread runtime per copy of this crate, and a future adapter that polls inside
//! it.
//!
//! A future exported to rustplug is polled on Node's JS thread, which is not a tokio thread: a
//! `tokio::spawn`, timer or `Handle::current()` inside `poll` panics with "there is no reactor
//! running" unless the poll runs inside a runtime's context. [`RuntimeExt::in_runtime`] enters
//! the kit's runtime (starting it on first use) around every poll:
//!
//! ```ignore
//! use rustplug_plugin::{FfiFuture, FutureExt, RuntimeExt};
//! #[no_mangle]
//! pub extern "C" fn tick(ms: u32) -> FfiFuture<()> {
//!     async move { rustplug_plugin::tokio::time::sleep(std::time::Duration::from_millis(ms.into())).await }
//!         .in_runtime()
//!         .into_ffi()
//! }
//! ```
//!
//! "Per copy of this crate": a cdylib links its own copy, so each cdylib plugin owns a runtime.
//! When the kit (and with it tokio) lives in a Rust dylib that several modules link with
//! `-C prefer-dynamic`, there is one copy in the process, so the runtime one module starts is the
//! runtime every module's [`RuntimeExt::in_started_runtime`] futures, `tokio::spawn` calls and
//! timers use. The runtime is never shut down (its worker threads may run any module's code, so
//! the modules must stay mapped: rustplug never unloads them).

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::task::{Context, Poll};

use tokio::runtime::{Builder, EnterGuard, Runtime};

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// The name of the runtime's worker threads.
pub const THREAD_NAME: &str = "rustplug-rt";

/// Starts the runtime with `workers` worker threads (0: tokio's default, one per CPU), or returns
/// the one already started (whatever its size).
pub fn start(workers: usize) -> &'static Runtime {
    RUNTIME.get_or_init(|| {
        let mut b = Builder::new_multi_thread();
        if workers > 0 {
            b.worker_threads(workers);
        }
        b.thread_name(THREAD_NAME)
            .enable_time()
            .build()
            .unwrap_or_else(|e| panic!("rustplug_plugin::runtime: cannot start the tokio runtime: {e}"))
    })
}

/// The runtime, started with tokio's default size if nothing started it yet.
pub fn get() -> &'static Runtime {
    start(0)
}

/// The runtime if one was started, without starting one.
pub fn started() -> Option<&'static Runtime> {
    RUNTIME.get()
}

thread_local! {
    static ENTERED: RefCell<Option<EnterGuard<'static>>> = const { RefCell::new(None) };
}

/// Makes the calling thread run inside the started runtime's context until [`exit_thread`]:
/// `tokio::spawn`, timers and `Handle::current()` called from it (e.g. from Node's JS thread,
/// in a sync export or a poll) find the runtime. Returns false when no runtime was started or the
/// thread is already inside it. Call [`exit_thread`] before the thread ends.
pub fn enter_thread() -> bool {
    let Some(rt) = started() else { return false };
    ENTERED.with(|e| {
        let mut e = e.borrow_mut();
        if e.is_some() {
            return false;
        }
        *e = Some(rt.enter());
        true
    })
}

/// Leaves the context [`enter_thread`] entered; false when the thread was not inside it.
pub fn exit_thread() -> bool {
    ENTERED.with(|e| e.borrow_mut().take().is_some())
}

static NEXT_THREAD: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static THREAD_ID: u64 = NEXT_THREAD.fetch_add(1, Ordering::Relaxed);
}

/// A number for the calling thread, unique among the threads this copy of the kit has numbered
/// (so comparable between modules that share the kit).
pub fn thread_id() -> u64 {
    THREAD_ID.with(|id| *id)
}

/// Whether the calling thread is one of the runtime's worker threads.
pub fn on_worker_thread() -> bool {
    std::thread::current().name() == Some(THREAD_NAME)
}

/// A future polled inside a runtime's context (see [`RuntimeExt`]).
pub struct InRuntime<F> {
    fut: F,
    start: bool,
}

impl<F: Future> Future for InRuntime<F> {
    type Output = F::Output;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let rt = if self.start { Some(get()) } else { started() };
        let _entered = rt.map(Runtime::enter);
        // SAFETY: structural pinning of `fut`: it is never moved out of `InRuntime`, which has no
        // Drop or Unpin impl of its own.
        unsafe { self.map_unchecked_mut(|s| &mut s.fut) }.poll(cx)
    }
}

/// Polling inside the kit's runtime.
pub trait RuntimeExt: Future + Sized {
    /// Polls inside the runtime, starting it (tokio's default size) on first use.
    fn in_runtime(self) -> InRuntime<Self> {
        InRuntime { fut: self, start: true }
    }

    /// Polls inside the runtime if one was started (by this module or, when the kit is shared,
    /// by another); otherwise polls as is, and tokio calls inside panic ("no reactor running").
    fn in_started_runtime(self) -> InRuntime<Self> {
        InRuntime { fut: self, start: false }
    }
}

impl<F: Future> RuntimeExt for F {}
