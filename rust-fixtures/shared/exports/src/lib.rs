//! What every module of the set shares: with `-C prefer-dynamic` there is one copy of this crate
//! in the process — of its counter, of the plugin kit (its runtime, its panic slot) and of tokio
//! (its thread-local runtime context, its timers) — so a runtime mod_a starts is the one mod_b's
//! `tokio::spawn` finds. Modules reach tokio and the kit only through these re-exports: a direct
//! dependency would link a second copy.

pub use rustplug_plugin as kit;
pub use rustplug_plugin::tokio;

use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Adds `by` to the shared counter and returns the new value.
pub fn bump(by: u64) -> u64 {
    COUNTER.fetch_add(by, Ordering::SeqCst) + by
}

/// The address of the shared counter: equal in every module that sees the same copy.
pub fn counter_address() -> usize {
    &COUNTER as *const AtomicU64 as usize
}

#[no_mangle]
pub extern "C" fn exports_counter() -> u64 {
    COUNTER.load(Ordering::SeqCst)
}
