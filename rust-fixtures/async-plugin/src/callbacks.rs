//! Exports that call JS back: futures returned by JS async functions, awaited on this plugin's
//! tokio runtime (`rustplug_plugin::ffi::js`), and plain callbacks called from the JS thread and from
//! other threads.
use rustplug_plugin::ffi::js::{JsCall, JsResult};
use rustplug_plugin::FfiFuture;
use std::sync::atomic::{AtomicI64, Ordering};

use crate::{after, export, runtime, spawn_thread};

/// `extern "C" fn(u32) -> FfiFuture<JsResult<u64>>`: a JS async function the host hands over.
pub type JsU64 = extern "C" fn(u32) -> FfiFuture<JsResult<u64>>;

static JS_ERRORS: AtomicI64 = AtomicI64::new(0);

/// Rejections `sum_js` saw (the last call's count).
#[no_mangle]
pub extern "C" fn js_errors() -> i64 {
    JS_ERRORS.load(Ordering::SeqCst)
}

/// Calls `cb(0..n)` from `n` tasks on the tokio workers, all at once, and sums what the Promises
/// fulfil with; rejections are counted (`js_errors`) and add nothing.
#[no_mangle]
pub extern "C" fn sum_js(cb: JsU64, n: u32) -> FfiFuture<u64> {
    export(async move {
        let tasks: Vec<_> = (0..n).map(|i| runtime().spawn(async move { JsCall::new(cb(i)).await })).collect();
        let mut sum = 0u64;
        let mut errors = 0;
        for t in tasks {
            match t.await.expect("async-plugin: a sum_js task panicked") {
                Ok(v) => sum += v,
                Err(_) => errors += 1,
            }
        }
        JS_ERRORS.store(errors, Ordering::SeqCst);
        sum
    })
}

/// Calls `cb(x)` once and returns the rejection's text length (0 when fulfilled), so a test sees
/// the message arrive intact: `cb` rejects with a message of a known length.
#[no_mangle]
pub extern "C" fn js_error_len(cb: JsU64, x: u32) -> FfiFuture<u64> {
    export(async move {
        match JsCall::new(cb(x)).await {
            Ok(_) => 0,
            Err(e) => e.0.len() as u64,
        }
    })
}

/// Calls `cb(x)` from a tokio worker and drops the returned future at once, before JS even runs;
/// then sleeps `ms` and returns 1.
#[no_mangle]
pub extern "C" fn drop_js_future(cb: JsU64, x: u32, ms: u32) -> FfiFuture<u32> {
    export(async move {
        runtime().spawn(async move { drop(cb(x)) }).await.expect("drop_js_future task");
        after(crate::ms(ms), 1).await
    })
}

/// Calls `cb(i)` (a void callback) from `threads` std threads, `per` times each, and returns
/// after they finished: the host must queue the calls, never block these threads.
#[no_mangle]
pub extern "C" fn notify_from_threads(cb: extern "C" fn(u32, u32), threads: u32, per: u32) {
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            std::thread::spawn(move || {
                for i in 0..per {
                    cb(t, i);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("notify_from_threads: a thread panicked");
    }
}

/// A std thread calls `cb(x)` (a result-returning callback: the thread waits for JS) and the
/// future completes with what JS returned.
#[no_mangle]
pub extern "C" fn compute_on_thread(cb: extern "C" fn(f64) -> f64, x: f64) -> FfiFuture<f64> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    spawn_thread("async-plugin-compute", move || {
        let _ = tx.send(cb(x));
    });
    export(async move { rx.await.expect("compute_on_thread: the thread dropped its sender") })
}

/// Calls `cb(x)` on the calling thread (the host's JS thread) and returns its result + 1.
#[no_mangle]
pub extern "C" fn call_here(cb: extern "C" fn(i32) -> i32, x: i32) -> i32 {
    cb(x).wrapping_add(1)
}

/// One Rust → JS → Rust round trip from a tokio worker: a task on the plugin's runtime calls
/// `cb(x)` (queued to the JS thread), awaits the Promise's settlement as a Rust future, and the
/// returned future completes with the value (`u64::MAX` on a rejection).
#[no_mangle]
pub extern "C" fn js_round_trip(cb: JsU64, x: u32) -> FfiFuture<u64> {
    export(async move {
        let r = runtime().spawn(async move { JsCall::new(cb(x)).await }).await;
        match r.expect("js_round_trip: the task panicked") {
            Ok(v) => v,
            Err(_) => u64::MAX,
        }
    })
}

/// The same round trip without a plugin thread: `cb(x)` is called inside the first poll (on the
/// JS thread, so it runs inline) and its future is awaited right there; `u64::MAX` on a rejection.
#[no_mangle]
pub extern "C" fn js_inline_round_trip(cb: JsU64, x: u32) -> FfiFuture<u64> {
    export(async move { JsCall::new(cb(x)).await.unwrap_or(u64::MAX) })
}

/// A new std thread calls `cb(0)` … `cb(n-1)` (a void callback) back to back and the returned
/// future completes with the nanoseconds those n calls took on that thread: the caller-side cost
/// of a callback that is queued (or, for a host that blocks the caller, the full delivery).
#[no_mangle]
pub extern "C" fn void_calls_on_thread(cb: extern "C" fn(u32), n: u32) -> FfiFuture<u64> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    spawn_thread("async-plugin-void-calls", move || {
        let t0 = std::time::Instant::now();
        for i in 0..n {
            cb(i);
        }
        let ns = u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let _ = tx.send(ns);
    });
    export(async move { rx.await.expect("void_calls_on_thread: the thread dropped its sender") })
}
