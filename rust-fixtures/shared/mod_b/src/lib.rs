//! A plugin that keeps its state in the shared `exports` dylib.

#[no_mangle]
pub extern "C" fn mod_b_bump(by: u64) -> u64 {
    exports::bump(by)
}

#[no_mangle]
pub extern "C" fn mod_b_counter_address() -> usize {
    exports::counter_address()
}
