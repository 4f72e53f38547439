//! State shared by every module that links this dylib: with `-C prefer-dynamic` there is one
//! copy of it in the process, so a counter bumped by mod_a is seen by mod_b.

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
