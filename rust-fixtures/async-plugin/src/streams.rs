//! `FfiStream<T>` exports (the stream ABI of docs/abi.md, via `rustplug_plugin::stream`): items of every
//! result type, ready at once, woken by tokio workers, woken by a std thread, infinite, and
//! panicking mid-stream. `streams_alive()` counts streams whose `drop_fn` has not run.
use rustplug_plugin::stream::{FfiStream, StreamExt};
use futures_core::Stream;
use std::collections::VecDeque;
use std::ffi::{c_char, CStr};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use crate::{after, ms, new_string, spawn_thread, Point, SendPtr};

static STREAMS_ALIVE: AtomicI64 = AtomicI64::new(0);

/// FfiStreams created by this plugin whose `drop_fn` has not run yet.
#[no_mangle]
pub extern "C" fn streams_alive() -> i64 {
    STREAMS_ALIVE.load(Ordering::SeqCst)
}

/// A stream from a closure, counted alive until the host drops it.
struct FnStream<F> {
    next: F,
}

impl<F> Drop for FnStream<F> {
    fn drop(&mut self) {
        STREAMS_ALIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

impl<T, F: FnMut(&mut Context<'_>) -> Poll<Option<T>> + Unpin> Stream for FnStream<F> {
    type Item = T;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        (self.next)(cx)
    }
}

fn export<T, F: FnMut(&mut Context<'_>) -> Poll<Option<T>> + Unpin + Send + 'static>(next: F) -> FfiStream<T> {
    STREAMS_ALIVE.fetch_add(1, Ordering::SeqCst);
    FnStream { next }.into_ffi()
}

/// 0, 1, …, n-1 converted to T, each ready at once.
fn count<T: Send + 'static>(n: u32, conv: fn(u32) -> T) -> FfiStream<T> {
    let mut i = 0;
    export(move |_| {
        if i == n {
            return Poll::Ready(None);
        }
        i += 1;
        Poll::Ready(Some(conv(i - 1)))
    })
}

macro_rules! count_exports {
    ($($name:ident: $t:ty = $conv:expr;)*) => {$(
        #[no_mangle]
        pub extern "C" fn $name(n: u32) -> FfiStream<$t> {
            count(n, $conv)
        }
    )*};
}

count_exports! {
    count_u8: u8 = |i| i as u8;
    count_i32: i32 = |i| -(i as i32);
    count_u32: u32 = |i| i;
    count_i64: i64 = |i| -(i64::from(i)) * 1_000_000_000_000;
    count_u64: u64 = |i| u64::from(i) + (1 << 60);
    count_f32: f32 = |i| i as f32 + 0.5;
    count_f64: f64 = |i| f64::from(i) / 4.0;
    count_bool: bool = |i| i % 2 == 1;
    count_void: () = |_| ();
    count_point: Point = |i| Point { x: f64::from(i), y: 2.0 * f64::from(i) };
}

/// The words of `s` (split on spaces), one plugin-owned string per item (free each with
/// `async_free_string`). `s` is read at every poll: the host keeps it alive until the drop.
#[no_mangle]
pub extern "C" fn words(s: *const c_char) -> FfiStream<*mut c_char> {
    let s = SendPtr(s.cast_mut());
    let mut at = 0usize;
    export(move |_| {
        let p = s.get();
        // SAFETY: non-null and kept alive by the host for the stream's lifetime.
        let text = if p.is_null() { "" } else { unsafe { CStr::from_ptr(p) }.to_str().unwrap_or("") };
        let rest = &text[at.min(text.len())..];
        let trimmed = rest.trim_start_matches(' ');
        if trimmed.is_empty() {
            return Poll::Ready(None);
        }
        let start = at + (rest.len() - trimmed.len());
        let len = trimmed.find(' ').unwrap_or(trimmed.len());
        at = start + len;
        Poll::Ready(Some(new_string(text[start..start + len].to_owned())))
    })
}

/// 0, 1, 2, … forever, each ready at once.
#[no_mangle]
pub extern "C" fn naturals() -> FfiStream<u64> {
    let mut i = 0u64;
    export(move |_| {
        i += 1;
        Poll::Ready(Some(i - 1))
    })
}

/// n items 0..n, each after a tokio sleep of `ms_` (woken by a tokio worker).
#[no_mangle]
pub extern "C" fn ticks(ms_: u32, n: u32) -> FfiStream<u64> {
    let mut i = 0u32;
    let mut sleep: Option<Pin<Box<dyn Future<Output = u32> + Send>>> = None;
    export(move |cx| {
        if i == n {
            return Poll::Ready(None);
        }
        let fut = sleep.get_or_insert_with(|| Box::pin(after(ms(ms_), i)));
        match fut.as_mut().poll(cx) {
            Poll::Ready(v) => {
                sleep = None;
                i += 1;
                Poll::Ready(Some(u64::from(v)))
            }
            Poll::Pending => Poll::Pending,
        }
    })
}

/// A std thread pushes 0..n into a queue (a microsecond pause between items) and wakes the
/// stream's latest waker after each: items arrive whether or not the host is asking.
#[no_mangle]
pub extern "C" fn thread_items(n: u32, pause_us: u32) -> FfiStream<u64> {
    struct Shared {
        items: VecDeque<u64>,
        done: bool,
        waker: Option<Waker>,
    }
    let shared = Arc::new(Mutex::new(Shared { items: VecDeque::new(), done: false, waker: None }));
    let mut started = false;
    export(move |cx| {
        let mut s = shared.lock().unwrap();
        if let Some(v) = s.items.pop_front() {
            return Poll::Ready(Some(v));
        }
        if s.done {
            return Poll::Ready(None);
        }
        s.waker = Some(cx.waker().clone());
        if !started {
            started = true;
            let shared = Arc::clone(&shared);
            spawn_thread("async-plugin-stream", move || {
                for v in 0..u64::from(n) {
                    std::thread::sleep(std::time::Duration::from_micros(u64::from(pause_us)));
                    let w = {
                        let mut s = shared.lock().unwrap();
                        s.items.push_back(v);
                        s.waker.take()
                    };
                    if let Some(w) = w {
                        w.wake();
                    }
                }
                let w = {
                    let mut s = shared.lock().unwrap();
                    s.done = true;
                    s.waker.take()
                };
                if let Some(w) = w {
                    w.wake();
                }
            });
        }
        Poll::Pending
    })
}

/// Yields 0..k, then panics at the next poll (caught by the stream's poll_next: Panicked).
#[no_mangle]
pub extern "C" fn panic_after_items(k: u32) -> FfiStream<u32> {
    let mut i = 0;
    export(move |_| {
        if i == k {
            panic!("panic_after_items: expected panic from the async-plugin fixture after {k} items");
        }
        i += 1;
        Poll::Ready(Some(i - 1))
    })
}

/// n items 0..n, each woken by the persistent remote thread of `remote_u64`: the first poll of an
/// item sends a waker clone there and returns Pending, the next poll yields it. One cross-thread
/// wake per item, like one `remote_u64` future per item (the benchmarks compare the two).
#[no_mangle]
pub extern "C" fn remote_items(n: u32) -> FfiStream<u64> {
    let mut i = 0u32;
    let mut sent = false;
    export(move |cx| {
        if i == n {
            return Poll::Ready(None);
        }
        if !sent {
            sent = true;
            crate::remote_channel().send(cx.waker().clone());
            return Poll::Pending;
        }
        sent = false;
        i += 1;
        Poll::Ready(Some(u64::from(i - 1)))
    })
}
