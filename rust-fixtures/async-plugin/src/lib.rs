//! `async-plugin`: `FfiFuture<T>` exports (async-ffi 0.5 ABI, via the `rustplug-plugin` kit) for
//! rustplug's tests.
//!
//! * Every future this plugin returns carries an [`AliveGuard`]: `futures_alive()` goes up when it
//!   is created and down when the host calls its `drop_fn` (not when it completes).
//! * `wakers_alive()` counts owned FFI waker clones held by the plugin (+1 per FFI `clone` call,
//!   -1 per FFI `wake` or `drop` call); `polls_total()` counts `poll_fn` calls. Both come from
//!   `rustplug_plugin::stats`, which only this plugin's futures use in this library.
//! * The plugin owns a tokio multi-thread runtime (2 workers), created on first use and never
//!   shut down. The library is linked with `-z nodelete` (build.rs) so `dlclose` cannot unmap code
//!   that tokio's workers or our std threads may still run.
//! * `threads_alive()` counts std threads the plugin started that have not finished; a thread
//!   decrements it only after its last waker call.
#![deny(unsafe_op_in_unsafe_fn)]
#![allow(clippy::not_unsafe_ptr_arg_deref, clippy::missing_safety_doc)]

mod callbacks;
mod streams;

rustplug_plugin::manifest!();

use rustplug_plugin::{FfiFuture, FutureExt, LocalFfiFuture};
use std::ffi::{c_char, c_void, CStr, CString};
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::runtime::Runtime;

// ---------------------------------------------------------------------------------------------
// Counters

static FUTURES_ALIVE: AtomicI64 = AtomicI64::new(0);
static THREADS_ALIVE: AtomicI64 = AtomicI64::new(0);
static STRINGS_ALIVE: AtomicI64 = AtomicI64::new(0);

/// FfiFutures created by this plugin whose `drop_fn` has not run yet.
#[no_mangle]
pub extern "C" fn futures_alive() -> i64 {
    FUTURES_ALIVE.load(Ordering::SeqCst)
}

/// Owned FFI waker clones the plugin holds (FFI `clone` calls minus FFI `wake`/`drop` calls).
#[no_mangle]
pub extern "C" fn wakers_alive() -> i64 {
    rustplug_plugin::stats::owned_ffi_wakers()
}

/// How many times the host called a `poll_fn` of this plugin's futures.
#[no_mangle]
pub extern "C" fn polls_total() -> u64 {
    rustplug_plugin::stats::polls_total()
}

/// Std threads started by the plugin that have not finished (their waker calls are done once
/// they are no longer counted).
#[no_mangle]
pub extern "C" fn threads_alive() -> i64 {
    THREADS_ALIVE.load(Ordering::SeqCst)
}

/// Strings returned by `ready_string`/`delayed_string` and not yet freed.
#[no_mangle]
pub extern "C" fn async_strings_alive() -> i64 {
    STRINGS_ALIVE.load(Ordering::SeqCst)
}

/// Frees a string returned by one of this plugin's futures. Null is a no-op.
#[no_mangle]
pub extern "C" fn async_free_string(s: *mut c_char) {
    if s.is_null() {
        return;
    }
    // SAFETY: `s` came from `CString::into_raw` in `new_string` and is freed once (caller's
    // contract).
    drop(unsafe { CString::from_raw(s) });
    STRINGS_ALIVE.fetch_sub(1, Ordering::SeqCst);
}

fn new_string(s: String) -> *mut c_char {
    // Interior NULs cannot occur: inputs are read up to their first NUL.
    let c = CString::new(s).expect("no interior NUL");
    STRINGS_ALIVE.fetch_add(1, Ordering::SeqCst);
    c.into_raw()
}

// ---------------------------------------------------------------------------------------------
// Future wrapper: counts the future alive until its box is dropped

struct AliveGuard;

impl AliveGuard {
    fn new() -> Self {
        FUTURES_ALIVE.fetch_add(1, Ordering::SeqCst);
        AliveGuard
    }
}

impl Drop for AliveGuard {
    fn drop(&mut self) {
        FUTURES_ALIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

struct Tracked<F> {
    fut: F,
    _alive: AliveGuard,
}

impl<F: Future> Future for Tracked<F> {
    type Output = F::Output;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: structural pinning of `fut`: it is never moved out of `Tracked`, and `Tracked`
        // has no `Drop` impl or `Unpin` impl that could move it.
        unsafe { self.map_unchecked_mut(|t| &mut t.fut) }.poll(cx)
    }
}

fn export<F: Future + Send + 'static>(fut: F) -> FfiFuture<F::Output> {
    Tracked { fut, _alive: AliveGuard::new() }.into_ffi()
}

fn export_local<F: Future + 'static>(fut: F) -> LocalFfiFuture<F::Output> {
    Tracked { fut, _alive: AliveGuard::new() }.into_local_ffi()
}

/// A raw pointer argument kept inside a future (or a result pointer on its way out).
#[derive(Clone, Copy)]
struct SendPtr<T>(*mut T);
// SAFETY: the plugin never dereferences these pointers off the polling thread: arguments are read
// only inside `poll`, and the host keeps argument memory alive until the future is dropped (that
// is exactly what `delayed_string` and `fetch_len` test); the pointee is only read. Result
// pointers are handed to the host untouched. `ready_pointer` only passes its pointer through.
unsafe impl<T> Send for SendPtr<T> {}
impl<T> SendPtr<T> {
    fn get(self) -> *mut T {
        self.0
    }
}

/// Reads a C string lossily; null reads as "".
///
/// # Safety
/// `s` is null or a NUL-terminated string valid for this call.
unsafe fn read_str(s: *const c_char) -> String {
    if s.is_null() {
        return String::new();
    }
    // SAFETY: non-null and NUL-terminated (the caller's contract).
    unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned()
}

// ---------------------------------------------------------------------------------------------
// Runtime and threads

fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("async-plugin-tokio")
            .enable_time()
            .build()
            .expect("async-plugin: cannot build the tokio runtime")
    })
}

/// Aborts a tokio task when the future that waits for it is dropped (cancellation).
struct AbortOnDrop(tokio::task::JoinHandle<()>);
impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Spawns a sleep on the plugin's runtime and awaits its result through a oneshot channel, so the
/// wake comes from a tokio worker thread.
async fn after<T: Send + 'static>(dur: Duration, value: T) -> T {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let task = runtime().spawn(async move {
        tokio::time::sleep(dur).await;
        let _ = tx.send(value);
    });
    let _abort = AbortOnDrop(task);
    rx.await.expect("async-plugin: the runtime dropped a sleep task")
}

fn ms(ms: u32) -> Duration {
    Duration::from_millis(u64::from(ms))
}

/// Starts a std thread counted by `threads_alive` (decremented after `f` returned, also on panic).
fn spawn_thread(name: &str, f: impl FnOnce() + Send + 'static) {
    struct Done;
    impl Drop for Done {
        fn drop(&mut self) {
            THREADS_ALIVE.fetch_sub(1, Ordering::SeqCst);
        }
    }
    THREADS_ALIVE.fetch_add(1, Ordering::SeqCst);
    let spawned = std::thread::Builder::new().name(name.to_owned()).spawn(move || {
        let _done = Done;
        f();
    });
    if let Err(e) = spawned {
        THREADS_ALIVE.fetch_sub(1, Ordering::SeqCst);
        // Inside poll: becomes FfiPoll::Panicked.
        panic!("async-plugin: cannot start a thread: {e}");
    }
}

// ---------------------------------------------------------------------------------------------
// Ready at once

#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub x: f64,
    pub y: f64,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mixed {
    pub a: u8,
    pub b: i32,
    pub c: u64,
    pub d: f32,
}

macro_rules! ready {
    ($($name:ident: $t:ty),* $(,)?) => {$(
        /// Ready at the first poll with the argument.
        #[no_mangle]
        pub extern "C" fn $name(v: $t) -> FfiFuture<$t> {
            export(async move { v })
        }
    )*};
}

ready!(
    ready_i8: i8,
    ready_u8: u8,
    ready_i16: i16,
    ready_u16: u16,
    ready_i32: i32,
    ready_u32: u32,
    ready_i64: i64,
    ready_u64: u64,
    ready_isize: isize,
    ready_usize: usize,
    ready_f32: f32,
    ready_f64: f64,
    ready_bool: bool,
);

#[no_mangle]
pub extern "C" fn ready_void() -> FfiFuture<()> {
    export(async {})
}

#[no_mangle]
pub extern "C" fn ready_pointer(p: *mut c_void) -> FfiFuture<*mut c_void> {
    let p = SendPtr(p);
    export(async move { p.get() })
}

#[no_mangle]
pub extern "C" fn ready_point(x: f64, y: f64) -> FfiFuture<Point> {
    export(async move { Point { x, y } })
}

#[no_mangle]
pub extern "C" fn ready_mixed(a: u8, b: i32, c: u64, d: f32) -> FfiFuture<Mixed> {
    export(async move { Mixed { a, b, c, d } })
}

/// Arguments of every register class in one call, in an interleaved order: the value encodes
/// each argument, so a host that puts one in the wrong register gets a different number.
#[no_mangle]
pub extern "C" fn mix_args(a: i8, x: f64, b: u16, y: f32, c: i64, z: f64, d: bool) -> FfiFuture<f64> {
    export(async move {
        a as f64
            + x * 10.0
            + b as f64 * 100.0
            + y as f64 * 1000.0
            + c as f64 * 10000.0
            + z
            + if d { 0.5 } else { 0.0 }
    })
}

/// Six integer arguments: one more than fit in registers next to the hidden result pointer.
#[no_mangle]
pub extern "C" fn sum6(a: u64, b: u64, c: u64, d: u64, e: u64, f: u64) -> FfiFuture<u64> {
    export(async move { a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f })
}

/// Nine doubles: one more than fit in XMM registers.
#[no_mangle]
pub extern "C" fn sum9f(
    a: f64,
    b: f64,
    c: f64,
    d: f64,
    e: f64,
    f: f64,
    g: f64,
    h: f64,
    i: f64,
) -> FfiFuture<f64> {
    export(async move { a + 2.0 * b + 3.0 * c + 4.0 * d + 5.0 * e + 6.0 * f + 7.0 * g + 8.0 * h + 9.0 * i })
}

/// A struct by value: the host calls this one through koffi. Woken by tokio after `ms`.
#[no_mangle]
pub extern "C" fn point_len_after(ms_: u32, p: Point) -> FfiFuture<f64> {
    export(async move {
        after(ms(ms_), ()).await;
        (p.x * p.x + p.y * p.y).sqrt()
    })
}

/// A `LocalFfiFuture` (same layout; not `Send` on the Rust side).
#[no_mangle]
pub extern "C" fn local_ready_u64(v: u64) -> LocalFfiFuture<u64> {
    export_local(async move { v })
}

// ---------------------------------------------------------------------------------------------
// Strings

/// Copies `s` now; ready at once with a new string "echo: {s}" (free with `async_free_string`).
#[no_mangle]
pub extern "C" fn ready_string(s: *const c_char) -> FfiFuture<*mut c_char> {
    // SAFETY: null or a valid C string for the duration of this call (caller's contract).
    let s = unsafe { read_str(s) };
    export(async move { SendPtr(new_string(format!("echo: {s}"))) }.map_ptr())
}

/// Keeps the raw pointer, sleeps `ms` on tokio, THEN reads `s` and returns "echo: {s}". The host
/// must keep the argument alive until the future is dropped.
#[no_mangle]
pub extern "C" fn delayed_string(s: *const c_char, ms_: u32) -> FfiFuture<*mut c_char> {
    let p = SendPtr(s.cast_mut());
    export(
        async move {
            after(ms(ms_), ()).await;
            // SAFETY: the host keeps argument memory alive while the future exists.
            let s = unsafe { read_str(p.get()) };
            SendPtr(new_string(format!("echo: {s}")))
        }
        .map_ptr(),
    )
}

/// After a 1 ms tokio sleep, reads `url` (not copied) and returns its byte length.
#[no_mangle]
pub extern "C" fn fetch_len(url: *const c_char) -> FfiFuture<u64> {
    let p = SendPtr(url.cast_mut());
    export(async move {
        after(Duration::from_millis(1), ()).await;
        let p = p.get();
        if p.is_null() {
            return 0;
        }
        // SAFETY: non-null, and the host keeps argument memory alive while the future exists.
        unsafe { CStr::from_ptr(p) }.to_bytes().len() as u64
    })
}

/// Turns a `Future<Output = SendPtr<T>>` into one with output `*mut T` (the raw pointer only
/// exists after the last await, so the future stays `Send`).
trait MapPtr<T>: Future<Output = SendPtr<T>> + Sized {
    fn map_ptr(self) -> impl Future<Output = *mut T> + Send
    where
        Self: Send,
    {
        async move { self.await.get() }
    }
}
impl<T, F: Future<Output = SendPtr<T>>> MapPtr<T> for F {}

// ---------------------------------------------------------------------------------------------
// Woken by tokio (a worker thread)

#[no_mangle]
pub extern "C" fn sleep_u64(ms_: u32, value: u64) -> FfiFuture<u64> {
    export(after(ms(ms_), value))
}

/// Like `sleep_u64`, in microseconds (tokio's timer resolution is 1 ms, so it rounds up).
#[no_mangle]
pub extern "C" fn sleep_us_u64(us: u32, value: u64) -> FfiFuture<u64> {
    export(after(Duration::from_micros(u64::from(us)), value))
}

#[no_mangle]
pub extern "C" fn tick(ms_: u32) -> FfiFuture<()> {
    export(after(ms(ms_), ()))
}

#[no_mangle]
pub extern "C" fn sleep_point(ms_: u32, x: f64, y: f64) -> FfiFuture<Point> {
    export(after(ms(ms_), Point { x, y }))
}

#[no_mangle]
pub extern "C" fn sleep_f64(ms_: u32, v: f64) -> FfiFuture<f64> {
    export(after(ms(ms_), v))
}

// ---------------------------------------------------------------------------------------------
// Woken by std threads, and waker edge cases

/// First poll clones the waker and starts a std thread that sleeps, stores the value, then wakes
/// the clone.
#[no_mangle]
pub extern "C" fn thread_sleep_u64(ms_: u32, value: u64) -> FfiFuture<u64> {
    struct Shared {
        done: AtomicBool,
        value: AtomicU64,
    }
    let mut shared: Option<Arc<Shared>> = None;
    export(poll_fn(move |cx| {
        let sh = shared.get_or_insert_with(|| {
            let sh = Arc::new(Shared { done: AtomicBool::new(false), value: AtomicU64::new(0) });
            let (sh2, waker) = (sh.clone(), cx.waker().clone());
            spawn_thread("thread_sleep_u64", move || {
                std::thread::sleep(ms(ms_));
                sh2.value.store(value, Ordering::Relaxed);
                sh2.done.store(true, Ordering::Release);
                waker.wake();
            });
            sh
        });
        if sh.done.load(Ordering::Acquire) {
            Poll::Ready(sh.value.load(Ordering::Relaxed))
        } else {
            Poll::Pending
        }
    }))
}

/// A waker channel to the one persistent "remote" thread behind `remote_u64`: a mutex-guarded
/// queue and a condvar, the same primitives as the addon's `benchPing` helper thread, so the two
/// round trips differ only by what rustplug adds. (`std::sync::mpsc`'s receiver spins and yields
/// before it parks, which on a 2-core machine doubled the round trip.)
struct RemoteChannel {
    queue: std::sync::Mutex<Vec<Waker>>,
    ready: std::sync::Condvar,
}

impl RemoteChannel {
    fn send(&self, waker: Waker) {
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).push(waker);
        self.ready.notify_one();
    }

    /// The remote thread: waits for wakers and wakes each one as soon as it arrives. Never returns.
    fn serve(&self) -> ! {
        let mut batch = Vec::new();
        loop {
            {
                let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
                while queue.is_empty() {
                    queue = self.ready.wait(queue).unwrap_or_else(|e| e.into_inner());
                }
                std::mem::swap(&mut *queue, &mut batch);
            }
            for waker in batch.drain(..) {
                waker.wake();
            }
        }
    }
}

/// The remote thread is started on first use and never exits; it is not counted by
/// `threads_alive` (it never finishes).
fn remote_channel() -> &'static RemoteChannel {
    static CHANNEL: OnceLock<&'static RemoteChannel> = OnceLock::new();
    CHANNEL.get_or_init(|| {
        let channel: &'static RemoteChannel = Box::leak(Box::new(RemoteChannel {
            queue: std::sync::Mutex::new(Vec::new()),
            ready: std::sync::Condvar::new(),
        }));
        std::thread::Builder::new()
            .name("async-plugin-remote".to_owned())
            .spawn(move || channel.serve())
            // Inside poll: becomes FfiPoll::Panicked.
            .expect("async-plugin: cannot start the remote thread");
        channel
    })
}

/// First poll sends a waker clone over a channel to the one persistent remote thread, which wakes
/// it at once; returns Pending. Second poll: Ready(value). A cross-thread wake with no sleep and no
/// thread start (the benchmarks' peer of a bare `uv_async_send`).
#[no_mangle]
pub extern "C" fn remote_u64(value: u64) -> FfiFuture<u64> {
    let mut sent = false;
    export(poll_fn(move |cx| {
        if sent {
            return Poll::Ready(value);
        }
        sent = true;
        remote_channel().send(cx.waker().clone());
        Poll::Pending
    }))
}

/// First poll: `wake_by_ref` on the borrowed waker during the poll, then Pending. Second poll:
/// Ready(number of polls so far) = 2.
#[no_mangle]
pub extern "C" fn wake_during_poll() -> FfiFuture<u32> {
    let mut polls = 0u32;
    export(poll_fn(move |cx| {
        polls += 1;
        if polls == 1 {
            cx.waker().wake_by_ref();
            Poll::Pending
        } else {
            Poll::Ready(polls)
        }
    }))
}

/// First poll: clones the waker twice, starts a thread that sets `done` and then wakes clone 1
/// and clone 2 (by value); returns Pending. Later polls: Ready(poll count) once done — 2 with a
/// host that coalesces wakes.
#[no_mangle]
pub extern "C" fn wake_twice() -> FfiFuture<u32> {
    let mut polls = 0u32;
    let mut done: Option<Arc<AtomicBool>> = None;
    export(poll_fn(move |cx| {
        polls += 1;
        match &done {
            None => {
                let d = Arc::new(AtomicBool::new(false));
                let (d2, w1, w2) = (d.clone(), cx.waker().clone(), cx.waker().clone());
                spawn_thread("wake_twice", move || {
                    d2.store(true, Ordering::Release);
                    w1.wake();
                    w2.wake();
                });
                done = Some(d);
                Poll::Pending
            }
            Some(d) if d.load(Ordering::Acquire) => Poll::Ready(polls),
            Some(_) => Poll::Pending,
        }
    }))
}

/// Polls 1..n-1 return Pending after handing a waker clone to a short-lived thread that wakes it;
/// poll n returns Ready(n). (n = 0 behaves like n = 1 but returns 0.)
#[no_mangle]
pub extern "C" fn spurious(n: u32) -> FfiFuture<u32> {
    let mut polls = 0u32;
    export(poll_fn(move |cx| {
        polls += 1;
        if polls >= n.max(1) {
            return Poll::Ready(n);
        }
        let w = cx.waker().clone();
        spawn_thread("spurious", move || w.wake());
        Poll::Pending
    }))
}

/// Panics in the first poll (→ Panicked).
#[no_mangle]
pub extern "C" fn panic_on_poll() -> FfiFuture<u32> {
    export(async { panic!("panic_on_poll: expected panic from the async-plugin fixture") })
}

/// A struct-result future that panics in the first poll: the host polls it through the
/// struct (koffi) path, so Panicked must be recognised there too.
#[no_mangle]
pub extern "C" fn panic_point() -> FfiFuture<Point> {
    export(async { panic!("panic_point: expected panic from the async-plugin fixture") })
}

/// Pending, woken by tokio after `ms`, then panics in the second poll.
#[no_mangle]
pub extern "C" fn panic_after(ms_: u32) -> FfiFuture<u32> {
    export(async move {
        after(ms(ms_), ()).await;
        panic!("panic_after: expected panic from the async-plugin fixture")
    })
}

/// Clones the waker on the first poll and keeps the clone (FFI-dropped when the future is
/// dropped); never completes.
#[no_mangle]
pub extern "C" fn never() -> FfiFuture<()> {
    let mut kept: Option<Waker> = None;
    export(poll_fn(move |cx| {
        if kept.is_none() {
            kept = Some(cx.waker().clone());
        }
        Poll::Pending
    }))
}

/// First poll: clones the waker, hands it to a thread that sleeps `ms` then wakes it; returns
/// Ready(7) at once, so the wake arrives after the future settled (and was dropped).
#[no_mangle]
pub extern "C" fn late_wake(ms_: u32) -> FfiFuture<u32> {
    export(poll_fn(move |cx| {
        let w = cx.waker().clone();
        spawn_thread("late_wake", move || {
            std::thread::sleep(ms(ms_));
            w.wake();
        });
        Poll::Ready(7)
    }))
}

/// First poll: clones twice; a thread wakes the first clone at once and the second after `ms`;
/// returns Pending. Second (and any later) poll: Ready(1).
#[no_mangle]
pub extern "C" fn pending_then_late_wake(ms_: u32) -> FfiFuture<u32> {
    let mut started = false;
    export(poll_fn(move |cx| {
        if started {
            return Poll::Ready(1);
        }
        started = true;
        let (w1, w2) = (cx.waker().clone(), cx.waker().clone());
        spawn_thread("pending_then_late_wake", move || {
            w1.wake();
            std::thread::sleep(ms(ms_));
            w2.wake();
        });
        Poll::Pending
    }))
}
