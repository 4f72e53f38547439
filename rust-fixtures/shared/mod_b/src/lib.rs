//! A module that starts nothing: its futures use whatever runtime the kit has (mod_a's, when the
//! kit is the one copy in libexports.so). The same source builds mod_static_b, a cdylib with its
//! own tokio and kit, where no runtime was ever started: its spawns panic ("no reactor running").
#![allow(clippy::missing_safety_doc)]

use exports::kit::{runtime, FfiFuture, FutureExt, RuntimeExt};
use exports::tokio;
use exports::tokio::runtime::Handle;
use std::time::Duration;

exports::kit::manifest!();

#[no_mangle]
pub extern "C" fn mod_b_bump(by: u64) -> u64 {
    exports::bump(by)
}

#[no_mangle]
pub extern "C" fn mod_b_counter_address() -> usize {
    exports::counter_address()
}

/// Whether the calling thread is inside a tokio runtime's context, as this module's tokio sees it.
#[no_mangle]
pub extern "C" fn mod_b_has_runtime() -> bool {
    Handle::try_current().is_ok()
}

/// Like mod_a_task_thread, from this module: the kit's id of the worker thread that ran the task.
#[no_mangle]
pub extern "C" fn mod_b_task_thread(ms: u32) -> FfiFuture<u64> {
    async move {
        // Outside every runtime this is tokio's "there is no reactor running" (TryCurrentError's Display).
        let _handle = Handle::try_current().unwrap_or_else(|e| panic!("mod_b: {e}"));
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(ms.into())).await;
            assert!(runtime::on_worker_thread(), "mod_b: a spawned task ran off the runtime's workers");
            runtime::thread_id()
        })
        .await
        .expect("mod_b: the task failed")
    }
    .in_started_runtime()
    .into_ffi()
}

/// `i * 3 + 2` from a spawned task after a sleep of `us` microseconds.
#[no_mangle]
pub extern "C" fn mod_b_work(i: u32, us: u32) -> FfiFuture<u64> {
    async move {
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_micros(us.into())).await;
            u64::from(i) * 3 + 2
        })
        .await
        .expect("mod_b: the task failed")
    }
    .in_started_runtime()
    .into_ffi()
}

/// Spawns without entering any runtime: works only when the polling thread itself is inside one
/// (the host entered it, see mod_a_enter). Returns the kit's id of the thread the task ran on.
#[no_mangle]
pub extern "C" fn mod_b_spawn_here(ms: u32) -> FfiFuture<u64> {
    async move {
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(ms.into())).await;
            runtime::thread_id()
        })
        .await
        .expect("mod_b: the task failed")
    }
    .into_ffi()
}
