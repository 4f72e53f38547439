//! Streams behind the same C ABI as futures: the shape proposed in async-ffi's issue #19, which
//! async-ffi 0.5 does not ship yet (rustplug's `docs/abi.md` states the layout).
//!
//! * [`FfiOption<T>`]: `repr(C, u8)`, `None = 0`, `Some(T) = 1`.
//! * [`FfiStream<T>`] / [`LocalFfiStream<T>`]: `{ stream_ptr, poll_next_fn, drop_fn }`, 24 bytes;
//!   `poll_next_fn(stream_ptr, cx) -> FfiPoll<FfiOption<T>>`.
//!
//! A host polls `poll_next_fn` only while it wants an item, never after `Ready(None)` or
//! `Panicked`, and calls `drop_fn` exactly once, whenever it stops (also mid-stream).
use std::pin::Pin;

use futures_core::Stream;

use super::{stats, FfiContext, FfiPoll};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::task::Poll;

/// An optional item. `repr(C, u8)`: a `u8` tag, then `T` at its natural alignment.
#[repr(C, u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FfiOption<T> {
    /// The stream ended.
    None = 0,
    /// The next item.
    Some(T) = 1,
}

impl<T> From<Option<T>> for FfiOption<T> {
    fn from(o: Option<T>) -> Self {
        match o {
            Some(v) => FfiOption::Some(v),
            None => FfiOption::None,
        }
    }
}

/// The signature of `poll_next_fn`.
pub type PollNextFn<T> = unsafe extern "C" fn(stream_ptr: *mut (), cx: *mut FfiContext<'_>) -> FfiPoll<FfiOption<T>>;
/// The signature of a stream's `drop_fn`.
pub type StreamDropFn = unsafe extern "C" fn(stream_ptr: *mut ());

/// A `Send` stream behind a C ABI. 24 bytes. Invariant: `stream_ptr` is owned by this value
/// until `drop_fn(stream_ptr)` runs, exactly once (on drop, or by whoever took the raw parts).
#[repr(C)]
pub struct FfiStream<T> {
    stream_ptr: *mut (),
    poll_next_fn: PollNextFn<T>,
    drop_fn: StreamDropFn,
}

// SAFETY: only constructed from a `Send` stream (`FfiStream::new` requires `S: Send`).
unsafe impl<T> Send for FfiStream<T> {}

/// A non-`Send` stream behind the same C ABI.
#[repr(C)]
pub struct LocalFfiStream<T> {
    stream_ptr: *mut (),
    poll_next_fn: PollNextFn<T>,
    drop_fn: StreamDropFn,
}

/// `poll_next_fn` for a boxed `S`.
///
/// # Safety
/// `stream_ptr` comes from `Box::<S>::into_raw` and is live; `cx` is valid for this call; no
/// concurrent poll of the same stream.
unsafe extern "C" fn poll_next_boxed<S: Stream>(stream_ptr: *mut (), cx: *mut FfiContext<'_>) -> FfiPoll<FfiOption<S::Item>> {
    stats::polled();
    let result = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: a live `Box<S>` whose contents never move until `drop_stream_boxed`.
        let s = unsafe { Pin::new_unchecked(&mut *stream_ptr.cast::<S>()) };
        // SAFETY: the host passes a valid, exclusive `FfiContext` for the call.
        let cx = unsafe { &mut *cx };
        cx.with_context(|cx| s.poll_next(cx))
    }));
    match result {
        Ok(Poll::Ready(item)) => FfiPoll::Ready(item.into()),
        Ok(Poll::Pending) => FfiPoll::Pending,
        Err(payload) => {
            crate::panic::caught(payload);
            FfiPoll::Panicked
        }
    }
}

/// # Safety
/// `stream_ptr` comes from `Box::<S>::into_raw` and is dropped exactly once.
unsafe extern "C" fn drop_stream_boxed<S>(stream_ptr: *mut ()) {
    // SAFETY: see the function's contract.
    drop(unsafe { Box::from_raw(stream_ptr.cast::<S>()) });
}

macro_rules! stream_impls {
    ($ty:ident) => {
        impl<T> $ty<T> {
            /// The raw parts, leaking the stream (the caller must call `drop_fn(stream_ptr)`).
            pub fn into_raw_parts(self) -> (*mut (), PollNextFn<T>, StreamDropFn) {
                let this = std::mem::ManuallyDrop::new(self);
                (this.stream_ptr, this.poll_next_fn, this.drop_fn)
            }
        }

        impl<T> Drop for $ty<T> {
            fn drop(&mut self) {
                // SAFETY: `drop_fn` runs exactly once, with its own pointer.
                unsafe { (self.drop_fn)(self.stream_ptr) }
            }
        }
    };
}

stream_impls!(FfiStream);
stream_impls!(LocalFfiStream);

/// Converts a Rust stream into an FFI stream.
pub trait StreamExt: Stream + Sized {
    /// Boxes `self` into an [`FfiStream`].
    fn into_ffi(self) -> FfiStream<Self::Item>
    where
        Self: Send + 'static,
    {
        crate::panic::install_hook();
        let stream_ptr = Box::into_raw(Box::new(self)).cast::<()>();
        FfiStream { stream_ptr, poll_next_fn: poll_next_boxed::<Self>, drop_fn: drop_stream_boxed::<Self> }
    }

    /// Boxes `self` into a [`LocalFfiStream`].
    fn into_local_ffi(self) -> LocalFfiStream<Self::Item>
    where
        Self: 'static,
    {
        crate::panic::install_hook();
        let stream_ptr = Box::into_raw(Box::new(self)).cast::<()>();
        LocalFfiStream { stream_ptr, poll_next_fn: poll_next_boxed::<Self>, drop_fn: drop_stream_boxed::<Self> }
    }
}

impl<S: Stream> StreamExt for S {}
