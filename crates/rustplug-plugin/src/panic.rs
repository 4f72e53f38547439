//! Panic messages for the host.
//!
//! A panic inside a future's (or stream's) poll is caught by the kit's `poll_fn`, which reports
//! `Panicked`; the C ABI carries no payload. So the kit keeps the panic's message and location in
//! a per-thread slot that the host reads right after that poll returned, on the same thread,
//! through the exported function
//!
//! ```c
//! size_t rustplug_take_panic(uint8_t *buf, size_t cap);
//! ```
//!
//! It writes `"<nanoseconds since the Unix epoch> <message> at <file>:<line>:<col>"` (UTF-8,
//! truncated to `cap` bytes, not NUL-terminated), clears the slot and returns the record's full
//! length, or 0 when this thread has no record. The timestamp lets a host that sees several
//! copies of the kit (every cdylib has its own) pick the newest record.
//!
//! The location comes from a panic hook that the kit installs the first time it boxes a future
//! or stream; it calls the hook that was installed before it, so panics still print as usual.

use std::any::Any;
use std::cell::RefCell;
use std::sync::Once;
use std::time::{SystemTime, UNIX_EPOCH};

thread_local! {
    /// The last panic this thread raised, as the hook saw it (message and location).
    static IN_FLIGHT: RefCell<Option<String>> = const { RefCell::new(None) };
    /// The last panic a `poll_fn` caught on this thread, for the host: (timestamp, text).
    static LAST: RefCell<Option<(u128, String)>> = const { RefCell::new(None) };
}

/// Installs the kit's panic hook once per copy of std (it chains to the previous hook).
pub fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let message = payload_text(info.payload()).unwrap_or_else(|| info.to_string());
            let text = match info.location() {
                Some(l) => format!("{message} at {}:{}:{}", l.file(), l.line(), l.column()),
                None => message,
            };
            // try_*: a panic while this thread's locals are being destroyed must not panic again.
            let _ = IN_FLIGHT.try_with(|s| {
                if let Ok(mut s) = s.try_borrow_mut() {
                    *s = Some(text);
                }
            });
            previous(info);
        }));
    });
}

fn payload_text(payload: &(dyn Any + Send)) -> Option<String> {
    if let Some(s) = payload.downcast_ref::<&str>() {
        Some((*s).to_owned())
    } else {
        payload.downcast_ref::<String>().cloned()
    }
}

/// Called by the kit's `poll_fn`s with the payload `catch_unwind` returned: keeps the message
/// (with its location when the hook saw it) for [`rustplug_take_panic`].
pub(crate) fn caught(payload: Box<dyn Any + Send>) {
    let from_hook = IN_FLIGHT.try_with(|s| s.try_borrow_mut().ok().and_then(|mut s| s.take())).ok().flatten();
    let text = from_hook
        .or_else(|| payload_text(&*payload))
        .unwrap_or_else(|| "a panic whose payload is not a string".to_owned());
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let _ = LAST.try_with(|s| {
        if let Ok(mut s) = s.try_borrow_mut() {
            *s = Some((now, text));
        }
    });
    // The payload is dropped by the caller's frame; a payload whose Drop panics would abort there
    // exactly as in async-ffi.
    drop(payload);
}

/// The text of the last panic a `poll_fn` caught on this thread, and clears it. For Rust-side
/// tests and hosts; C hosts call [`rustplug_take_panic`].
pub fn take_last() -> Option<String> {
    LAST.try_with(|s| s.try_borrow_mut().ok().and_then(|mut s| s.take())).ok().flatten().map(|(_, t)| t)
}

/// See the module documentation. `buf` may be null when `cap` is 0.
///
/// # Safety
/// `buf` must be valid for writes of `cap` bytes.
#[no_mangle]
pub unsafe extern "C" fn rustplug_take_panic(buf: *mut u8, cap: usize) -> usize {
    let Some((when, text)) = LAST.try_with(|s| s.try_borrow_mut().ok().and_then(|mut s| s.take())).ok().flatten() else {
        return 0;
    };
    let record = format!("{when} {text}");
    let n = record.len().min(cap);
    if n > 0 && !buf.is_null() {
        // SAFETY: the caller guarantees `buf` is writable for `cap` bytes, and n <= cap.
        unsafe { std::ptr::copy_nonoverlapping(record.as_ptr(), buf, n) };
    }
    record.len()
}
