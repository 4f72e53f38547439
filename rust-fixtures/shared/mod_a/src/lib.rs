//! The module that starts the set's runtime. Its futures spawn onto the runtime and report which
//! thread ran the task. The same source builds mod_static_a (a cdylib with its own tokio).
#![allow(clippy::missing_safety_doc)]

use exports::kit::{runtime, FfiFuture, FutureExt, RuntimeExt};
use exports::tokio;
use std::time::Duration;

exports::kit::manifest!();

#[no_mangle]
pub extern "C" fn mod_a_bump(by: u64) -> u64 {
    exports::bump(by)
}

#[no_mangle]
pub extern "C" fn mod_a_counter_address() -> usize {
    exports::counter_address()
}

/// Starts the runtime with `workers` threads (the one already started stays); returns true.
#[no_mangle]
pub extern "C" fn mod_a_start_runtime(workers: u32) -> bool {
    runtime::start(workers as usize);
    true
}

/// The calling thread (Node's JS thread) enters the runtime's context until `mod_a_exit`.
#[no_mangle]
pub extern "C" fn mod_a_enter() -> bool {
    runtime::enter_thread()
}

#[no_mangle]
pub extern "C" fn mod_a_exit() -> bool {
    runtime::exit_thread()
}

/// Spawns a task that sleeps `ms` and returns the kit's id of the worker thread it ran on.
#[no_mangle]
pub extern "C" fn mod_a_task_thread(ms: u32) -> FfiFuture<u64> {
    async move {
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(ms.into())).await;
            assert!(runtime::on_worker_thread(), "mod_a: a spawned task ran off the runtime's workers");
            runtime::thread_id()
        })
        .await
        .expect("mod_a: the task failed")
    }
    .in_started_runtime()
    .into_ffi()
}

/// `i * 2 + 1` from a spawned task after a sleep of `us` microseconds.
#[no_mangle]
pub extern "C" fn mod_a_work(i: u32, us: u32) -> FfiFuture<u64> {
    async move {
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_micros(us.into())).await;
            u64::from(i) * 2 + 1
        })
        .await
        .expect("mod_a: the task failed")
    }
    .in_started_runtime()
    .into_ffi()
}

/// Spawns a task nobody waits for: after `ms` it adds `by` to the shared counter. Runs on the
/// runtime's workers whatever the host did meanwhile (closed every handle, for instance).
#[no_mangle]
pub extern "C" fn mod_a_detached(ms: u32, by: u64) -> bool {
    let Some(rt) = runtime::started() else { return false };
    rt.spawn(async move {
        tokio::time::sleep(Duration::from_millis(ms.into())).await;
        exports::bump(by);
    });
    true
}
