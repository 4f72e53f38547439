//! The async-ffi 0.5 types, ABI-identical to the `async-ffi` crate (`ABI_VERSION` 2).
//!
//! This is not a copy of async-ffi: it is an independent implementation of the parts of it that
//! cross the C boundary, with the same `repr(C)` layouts (see `docs/abi.md` in the rustplug
//! repository), so a host that speaks async-ffi drives these futures and vice versa:
//!
//! * [`FfiFuture<T>`] / [`LocalFfiFuture<T>`]: `{ fut_ptr, poll_fn, drop_fn }`, 24 bytes.
//! * [`FfiPoll<T>`]: `repr(C, u8)`, `Ready(T) = 0`, `Pending = 1`, `Panicked = 2`.
//! * [`FfiContext`] → [`FfiWakerBase`] → [`FfiWakerVTable`] `{ clone, wake, wake_by_ref, drop }`.
//!
//! The exporting side: [`FutureExt::into_ffi`] / [`FutureExt::into_local_ffi`] box a Rust
//! future; its `poll_fn` turns the host's borrowed FFI waker into a std [`Waker`] and polls under
//! `catch_unwind`: a panic becomes [`FfiPoll::Panicked`], and its message and location are kept
//! for the host (see [`crate::panic`]).
//!
//! The importing side: `FfiFuture<T>` and `LocalFfiFuture<T>` implement [`Future`], so Rust code
//! can await one. A panic reported by the callee is re-raised as a panic with the message
//! "FFI future panicked", as `async-ffi` does.
//!
//! Streams: [`stream::FfiStream`] (`{ stream_ptr, poll_next_fn, drop_fn }`, the shape of
//! async-ffi's issue #19) and [`stream::StreamExt::into_ffi`].
//!
//! [`stats`] counts, per copy of this crate (every cdylib that links it has its own), how many
//! owned FFI waker clones it holds and how many times a `poll_fn` ran.

pub mod js;
pub mod stream;

use std::future::Future;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

/// The `async-ffi` ABI version these layouts correspond to.
pub const ABI_VERSION: u32 = 2;

/// The result of one `poll_fn` call. `repr(C, u8)`: a `u8` tag, then `T` at its natural
/// alignment. When the tag is not `Ready` the value bytes are garbage.
#[repr(C, u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FfiPoll<T> {
    /// The future completed with this value.
    Ready(T) = 0,
    /// Not ready; the waker will be woken.
    Pending = 1,
    /// The future panicked while being polled (the panic was caught; no payload crosses).
    Panicked = 2,
}

impl<T> From<Poll<T>> for FfiPoll<T> {
    fn from(p: Poll<T>) -> Self {
        match p {
            Poll::Ready(v) => FfiPoll::Ready(v),
            Poll::Pending => FfiPoll::Pending,
        }
    }
}

/// The waker functions a host supplies. Every pointer passed in is the `FfiWakerBase` the
/// function belongs to.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct FfiWakerVTable {
    /// Returns a new **owned** waker pointer (the host may return the same address, refcounted).
    pub clone: unsafe extern "C" fn(*const FfiWakerBase) -> *const FfiWakerBase,
    /// Wakes and consumes an owned waker.
    pub wake: unsafe extern "C" fn(*const FfiWakerBase),
    /// Wakes without consuming (owned or borrowed).
    pub wake_by_ref: unsafe extern "C" fn(*const FfiWakerBase),
    /// Releases an owned waker without waking it.
    pub drop: unsafe extern "C" fn(*const FfiWakerBase),
}

/// The header of every FFI waker; the host may place its own data after it.
#[repr(C)]
#[derive(Debug)]
pub struct FfiWakerBase {
    /// The waker's functions.
    pub vtable: *const FfiWakerVTable,
}

/// What `poll_fn` receives: a waker borrowed for the duration of that call.
#[repr(C)]
#[derive(Debug)]
pub struct FfiContext<'a> {
    waker: *const FfiWakerBase,
    _marker: PhantomData<&'a FfiWakerBase>,
}

impl<'a> FfiContext<'a> {
    /// Wraps a borrowed FFI waker.
    ///
    /// # Safety
    /// `waker.vtable` must point to a valid [`FfiWakerVTable`] whose functions follow the waker
    /// rules (clone returns an owned pointer; wake/drop consume an owned pointer; all callable
    /// from any thread) for at least as long as any clone is alive.
    pub unsafe fn new(waker: &'a FfiWakerBase) -> Self {
        Self { waker, _marker: PhantomData }
    }

    /// Like [`FfiContext::new`], from a raw pointer (keeps the provenance of a larger host
    /// struct that starts with an `FfiWakerBase`).
    ///
    /// # Safety
    /// As for [`FfiContext::new`]; `waker` must be valid for `'a`.
    pub unsafe fn from_raw(waker: *const FfiWakerBase) -> Self {
        Self { waker, _marker: PhantomData }
    }

    /// The borrowed waker pointer.
    pub fn waker_ptr(&self) -> *const FfiWakerBase {
        self.waker
    }

    /// Runs `closure` with a std [`Context`] whose waker forwards to this FFI waker.
    pub fn with_context<R, F: FnOnce(&mut Context<'_>) -> R>(&mut self, closure: F) -> R {
        // SAFETY: `self.waker` is valid with a sane vtable for the lifetime `'a` (the contract of
        // `FfiContext::new`, or of the host calling `poll_fn`). The std waker built on it is
        // *borrowed*: it is wrapped in `ManuallyDrop` so it is never dropped (which would call the
        // FFI `drop`), and std only ever lets safe code call `wake_by_ref` or `clone` through a
        // `&Waker`, so the FFI `wake`/`drop` are never called on the borrowed pointer.
        let waker = ManuallyDrop::new(unsafe {
            Waker::from_raw(RawWaker::new(self.waker.cast(), &FFI_TO_STD_VTABLE))
        });
        let mut cx = Context::from_waker(&waker);
        closure(&mut cx)
    }
}

/// A std waker vtable over an FFI waker. The data pointer is a `*const FfiWakerBase`; the same
/// vtable serves the borrowed waker (never dropped, see `with_context`) and owned clones (data is
/// the pointer returned by the FFI `clone`, which we own until `wake` or `drop`).
static FFI_TO_STD_VTABLE: RawWakerVTable =
    RawWakerVTable::new(ffi_to_std::clone, ffi_to_std::wake, ffi_to_std::wake_by_ref, ffi_to_std::drop);

mod ffi_to_std {
    use super::{stats, FfiWakerBase, FFI_TO_STD_VTABLE};
    use std::task::RawWaker;

    // SAFETY (all four): `data` is a `*const FfiWakerBase` whose vtable is valid: either the
    // borrowed waker of a poll in progress or an owned clone not yet woken/dropped (std calls
    // `wake`/`drop` at most once per owned RawWaker, and never on the borrowed one, which lives
    // in a ManuallyDrop).

    pub(super) unsafe fn clone(data: *const ()) -> RawWaker {
        let base = data.cast::<FfiWakerBase>();
        // SAFETY: see above; `clone` accepts borrowed and owned pointers alike.
        let owned = unsafe { ((*(*base).vtable).clone)(base) };
        stats::owned_waker_created();
        RawWaker::new(owned.cast(), &FFI_TO_STD_VTABLE)
    }

    pub(super) unsafe fn wake(data: *const ()) {
        let base = data.cast::<FfiWakerBase>();
        // Count first: after `wake` the pointer may be gone, and a host may re-poll at once.
        stats::owned_waker_released();
        // SAFETY: std calls `wake` only on an owned waker (one produced by `clone` above), and
        // consumes it: no further call uses `data`.
        unsafe { ((*(*base).vtable).wake)(base) }
    }

    pub(super) unsafe fn wake_by_ref(data: *const ()) {
        let base = data.cast::<FfiWakerBase>();
        // SAFETY: see above; `wake_by_ref` accepts borrowed and owned pointers alike.
        unsafe { ((*(*base).vtable).wake_by_ref)(base) }
    }

    pub(super) unsafe fn drop(data: *const ()) {
        let base = data.cast::<FfiWakerBase>();
        stats::owned_waker_released();
        // SAFETY: std drops only owned wakers (the borrowed one is in a ManuallyDrop), once.
        unsafe { ((*(*base).vtable).drop)(base) }
    }
}

/// Counters for this copy of the crate (each cdylib linking it has its own).
pub mod stats {
    use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

    static OWNED_WAKERS: AtomicI64 = AtomicI64::new(0);
    static POLLS: AtomicU64 = AtomicU64::new(0);

    /// Owned FFI waker clones held right now: +1 per FFI `clone` call made by this crate's std
    /// waker adapter, -1 per FFI `wake` or `drop` it made.
    pub fn owned_ffi_wakers() -> i64 {
        OWNED_WAKERS.load(Ordering::SeqCst)
    }

    /// How many times a `poll_fn` created by `into_ffi`/`into_local_ffi` ran.
    pub fn polls_total() -> u64 {
        POLLS.load(Ordering::SeqCst)
    }

    pub(crate) fn owned_waker_created() {
        OWNED_WAKERS.fetch_add(1, Ordering::SeqCst);
    }
    pub(crate) fn owned_waker_released() {
        OWNED_WAKERS.fetch_sub(1, Ordering::SeqCst);
    }
    pub(crate) fn polled() {
        POLLS.fetch_add(1, Ordering::Relaxed);
    }
}

/// The signature of `poll_fn`.
pub type PollFn<T> = unsafe extern "C" fn(fut_ptr: *mut (), cx: *mut FfiContext<'_>) -> FfiPoll<T>;
/// The signature of `drop_fn`.
pub type DropFn = unsafe extern "C" fn(fut_ptr: *mut ());

/// A `Send` future behind a C ABI (`async_ffi::FfiFuture<T>`). 24 bytes: `fut_ptr`, `poll_fn`,
/// `drop_fn`. Dropping it calls `drop_fn(fut_ptr)` once.
#[repr(C)]
pub struct FfiFuture<T> {
    fut_ptr: *mut (),
    poll_fn: PollFn<T>,
    drop_fn: DropFn,
}

// SAFETY: an `FfiFuture` is only ever constructed from a `Send` future (`FfiFuture::new`
// requires `F: Send`), or by `from_raw_parts` whose contract demands the same.
unsafe impl<T> Send for FfiFuture<T> {}

/// A non-`Send` future behind the same C ABI (`async_ffi::LocalFfiFuture<T>`).
#[repr(C)]
pub struct LocalFfiFuture<T> {
    fut_ptr: *mut (),
    poll_fn: PollFn<T>,
    drop_fn: DropFn,
}

/// `poll_fn` for a boxed `F`.
///
/// # Safety
/// `fut_ptr` comes from `Box::<F>::into_raw` (in `new`) and has not been dropped; `cx` points to a
/// valid `FfiContext` for this call; no other poll of the same future runs concurrently.
unsafe extern "C" fn poll_boxed<F: Future>(fut_ptr: *mut (), cx: *mut FfiContext<'_>) -> FfiPoll<F::Output> {
    stats::polled();
    let result = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `fut_ptr` is a live `Box<F>` (see above). The box's contents never move until
        // `drop_boxed` frees them, so pinning them is sound.
        let fut = unsafe { Pin::new_unchecked(&mut *fut_ptr.cast::<F>()) };
        // SAFETY: the host passes a valid, exclusive `FfiContext` for the duration of the call.
        let cx = unsafe { &mut *cx };
        cx.with_context(|cx| fut.poll(cx))
    }));
    match result {
        Ok(p) => p.into(),
        // The message and location are kept for the host; the payload is dropped here, as
        // async-ffi does. (A payload whose drop panics would abort: we are in `extern "C"`.)
        Err(payload) => {
            crate::panic::caught(payload);
            FfiPoll::Panicked
        }
    }
}

/// `drop_fn` for a boxed `F`.
///
/// # Safety
/// `fut_ptr` comes from `Box::<F>::into_raw` and is dropped exactly once.
unsafe extern "C" fn drop_boxed<F>(fut_ptr: *mut ()) {
    // SAFETY: see the function's contract. A panic in `F`'s destructor aborts the process
    // (`extern "C"` cannot unwind), as in async-ffi.
    drop(unsafe { Box::from_raw(fut_ptr.cast::<F>()) });
}

macro_rules! common_impls {
    ($ty:ident) => {
        impl<T> $ty<T> {
            /// Assembles a future from its raw parts.
            ///
            /// # Safety
            /// `poll_fn(fut_ptr, cx)` and `drop_fn(fut_ptr)` must follow the async-ffi contract:
            /// `poll_fn` may be called until it returns `Ready`/`Panicked`, `drop_fn` exactly once
            /// at the end. For `FfiFuture`, the future must be safe to poll from any thread.
            pub unsafe fn from_raw_parts(fut_ptr: *mut (), poll_fn: PollFn<T>, drop_fn: DropFn) -> Self {
                Self { fut_ptr, poll_fn, drop_fn }
            }

            /// The raw parts, leaking the future (the caller must call `drop_fn(fut_ptr)`).
            pub fn into_raw_parts(self) -> (*mut (), PollFn<T>, DropFn) {
                let this = ManuallyDrop::new(self);
                (this.fut_ptr, this.poll_fn, this.drop_fn)
            }

            /// Polls once through the C ABI.
            ///
            /// # Safety
            /// Must not be called again after it returned `Ready` or `Panicked`.
            pub unsafe fn poll_ffi(&mut self, cx: &mut FfiContext<'_>) -> FfiPoll<T> {
                // SAFETY: `fut_ptr` is live until `drop`; the caller upholds the "not after
                // completion" rule; `&mut self` excludes concurrent polls.
                unsafe { (self.poll_fn)(self.fut_ptr, cx) }
            }
        }

        impl<T> Drop for $ty<T> {
            fn drop(&mut self) {
                // SAFETY: `drop_fn` is called exactly once, with the pointer it belongs to.
                unsafe { (self.drop_fn)(self.fut_ptr) }
            }
        }

        impl<T> Future for $ty<T> {
            type Output = T;

            fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
                let ffi_poll = std_to_ffi::with_ffi_context(cx.waker(), |fcx| {
                    // SAFETY: std's `Future` contract says not to poll after `Ready`; after
                    // `Panicked` we panic ourselves, so the future is not polled again either.
                    unsafe { self.poll_ffi(fcx) }
                });
                match ffi_poll {
                    FfiPoll::Ready(v) => Poll::Ready(v),
                    FfiPoll::Pending => Poll::Pending,
                    FfiPoll::Panicked => panic!("FFI future panicked"),
                }
            }
        }

        impl<T> std::fmt::Debug for $ty<T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty)).field("fut_ptr", &self.fut_ptr).finish_non_exhaustive()
            }
        }
    };
}

common_impls!(FfiFuture);
common_impls!(LocalFfiFuture);

impl<T> FfiFuture<T> {
    /// Boxes a `Send` future.
    pub fn new<F: Future<Output = T> + Send + 'static>(fut: F) -> Self {
        crate::panic::install_hook();
        let fut_ptr = Box::into_raw(Box::new(fut)).cast::<()>();
        Self { fut_ptr, poll_fn: poll_boxed::<F>, drop_fn: drop_boxed::<F> }
    }
}

impl<T> LocalFfiFuture<T> {
    /// Boxes a future that need not be `Send`.
    pub fn new<F: Future<Output = T> + 'static>(fut: F) -> Self {
        crate::panic::install_hook();
        let fut_ptr = Box::into_raw(Box::new(fut)).cast::<()>();
        Self { fut_ptr, poll_fn: poll_boxed::<F>, drop_fn: drop_boxed::<F> }
    }
}

/// Converts a Rust future into an FFI future.
pub trait FutureExt: Future + Sized {
    /// Boxes `self` into an [`FfiFuture`].
    fn into_ffi(self) -> FfiFuture<Self::Output>
    where
        Self: Send + 'static,
    {
        FfiFuture::new(self)
    }

    /// Boxes `self` into a [`LocalFfiFuture`].
    fn into_local_ffi(self) -> LocalFfiFuture<Self::Output>
    where
        Self: 'static,
    {
        LocalFfiFuture::new(self)
    }
}

impl<F: Future> FutureExt for F {}

/// The importing side: an FFI waker over a std [`Waker`], so Rust code can poll an FFI future.
mod std_to_ffi {
    use super::{FfiContext, FfiWakerBase, FfiWakerVTable};
    use std::task::Waker;

    /// Borrowed: lives on the stack for one poll and points at the caller's `&Waker`.
    #[repr(C)]
    struct RefWaker {
        base: FfiWakerBase,
        waker: *const Waker,
    }

    /// Owned: a boxed clone, released by `wake` or `drop`.
    #[repr(C)]
    struct OwnedWaker {
        base: FfiWakerBase,
        waker: Waker,
    }

    static REF_VTABLE: FfiWakerVTable =
        FfiWakerVTable { clone: ref_clone, wake: ref_wake, wake_by_ref: ref_wake_by_ref, drop: ref_drop };

    static OWNED_VTABLE: FfiWakerVTable = FfiWakerVTable {
        clone: owned_clone,
        wake: owned_wake,
        wake_by_ref: owned_wake_by_ref,
        drop: owned_drop,
    };

    fn new_owned(waker: Waker) -> *const FfiWakerBase {
        Box::into_raw(Box::new(OwnedWaker { base: FfiWakerBase { vtable: &OWNED_VTABLE }, waker })).cast()
    }

    // SAFETY (ref_*): `this` is the `RefWaker` built in `with_ffi_context`, alive for the poll
    // call during which the callee may use it; its `waker` points to the caller's `&Waker`.
    unsafe extern "C" fn ref_clone(this: *const FfiWakerBase) -> *const FfiWakerBase {
        // SAFETY: see above.
        let w = unsafe { &*(*this.cast::<RefWaker>()).waker };
        new_owned(w.clone())
    }
    unsafe extern "C" fn ref_wake_by_ref(this: *const FfiWakerBase) {
        // SAFETY: see above.
        unsafe { &*(*this.cast::<RefWaker>()).waker }.wake_by_ref()
    }
    // Waking or dropping a borrowed waker breaks the contract; be lenient rather than crash:
    // `wake` acts like `wake_by_ref`, `drop` does nothing.
    unsafe extern "C" fn ref_wake(this: *const FfiWakerBase) {
        // SAFETY: see above.
        unsafe { ref_wake_by_ref(this) }
    }
    unsafe extern "C" fn ref_drop(_this: *const FfiWakerBase) {}

    // SAFETY (owned_*): `this` comes from `new_owned` and has not been consumed by `owned_wake`
    // or `owned_drop` (the callee's side of the waker contract).
    unsafe extern "C" fn owned_clone(this: *const FfiWakerBase) -> *const FfiWakerBase {
        // SAFETY: see above.
        let w = unsafe { &(*this.cast::<OwnedWaker>()).waker };
        new_owned(w.clone())
    }
    unsafe extern "C" fn owned_wake(this: *const FfiWakerBase) {
        // SAFETY: see above; this consumes the box.
        let b = unsafe { Box::from_raw(this.cast::<OwnedWaker>().cast_mut()) };
        b.waker.wake()
    }
    unsafe extern "C" fn owned_wake_by_ref(this: *const FfiWakerBase) {
        // SAFETY: see above.
        unsafe { &(*this.cast::<OwnedWaker>()).waker }.wake_by_ref()
    }
    unsafe extern "C" fn owned_drop(this: *const FfiWakerBase) {
        // SAFETY: see above; this consumes the box.
        drop(unsafe { Box::from_raw(this.cast::<OwnedWaker>().cast_mut()) })
    }

    /// Calls `f` with an `FfiContext` whose borrowed waker forwards to `waker`.
    pub(super) fn with_ffi_context<R>(waker: &Waker, f: impl FnOnce(&mut FfiContext<'_>) -> R) -> R {
        let ref_waker = RefWaker { base: FfiWakerBase { vtable: &REF_VTABLE }, waker };
        // SAFETY: `ref_waker` outlives the context (both live in this frame) and its vtable
        // follows the waker rules; clones are independent boxes. The pointer is taken to the
        // whole `RefWaker` so the callbacks may read its `waker` field.
        let mut cx = unsafe { FfiContext::from_raw(std::ptr::addr_of!(ref_waker).cast()) };
        f(&mut cx)
    }
}

#[cfg(test)]
mod tests;
