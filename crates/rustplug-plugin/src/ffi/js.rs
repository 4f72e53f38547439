//! Futures a JS callback hands to the plugin (rustplug's `{ callback: { result: { future: T } } }`):
//! the plugin calls the host's function pointer from any thread and gets an
//! `FfiFuture<JsResult<T>>` that the JS Promise settles. A rejection is a value, not a panic.
use std::ffi::{c_char, CStr};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::FfiFuture;

/// `repr(C, u8)`: `Ok(T) = 0`, or `Err` with the rejection's text, a NUL-terminated UTF-8 string
/// the host owns until the future is dropped (copy it before that: [`JsCall`] does).
#[repr(C, u8)]
#[derive(Debug, Clone, Copy)]
pub enum JsResult<T> {
    /// The Promise fulfilled with this value.
    Ok(T) = 0,
    /// The Promise rejected (or the callback threw, or could not run).
    Err(*const c_char) = 1,
}

/// A JS rejection, copied out of the host's memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsError(pub String);

impl std::fmt::Display for JsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for JsError {}

/// Awaits a JS callback's future as `Result<T, JsError>`, copying an error message while the
/// host still owns it (the inner future is dropped only with this one).
pub struct JsCall<T> {
    inner: FfiFuture<JsResult<T>>,
}

impl<T> JsCall<T> {
    /// Wraps what the host's callback pointer returned.
    pub fn new(inner: FfiFuture<JsResult<T>>) -> Self {
        Self { inner }
    }
}

impl<T> Future for JsCall<T> {
    type Output = Result<T, JsError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `inner` is never moved out of `self` (FfiFuture is Unpin: it is three pointers).
        match Pin::new(&mut self.inner).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(JsResult::Ok(v)) => Poll::Ready(Ok(v)),
            Poll::Ready(JsResult::Err(p)) => {
                let msg = if p.is_null() {
                    String::from("(no message)")
                } else {
                    // SAFETY: the host keeps the message alive until `inner` is dropped, which
                    // happens only after this copy (with `self`).
                    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
                };
                Poll::Ready(Err(JsError(msg)))
            }
        }
    }
}
