use super::*;
use std::mem::{align_of, size_of};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Wake;
use std::thread;
use std::time::Duration;

/// Tests that look at the process-wide `stats` counters take this lock, and so do all tests that
/// create wakers, so the counters only move under the test that reads them.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

// ---------------------------------------------------------------------------------------------
// Layout (docs/abi.md)

#[test]
fn layouts_match_async_ffi() {
    assert_eq!((size_of::<FfiFuture<u64>>(), align_of::<FfiFuture<u64>>()), (24, 8));
    assert_eq!(size_of::<LocalFfiFuture<u64>>(), 24);
    assert_eq!(size_of::<FfiFuture<[u8; 100]>>(), 24);
    assert_eq!((size_of::<FfiPoll<i32>>(), align_of::<FfiPoll<i32>>()), (8, 4));
    assert_eq!((size_of::<FfiPoll<u64>>(), align_of::<FfiPoll<u64>>()), (16, 8));
    assert_eq!(size_of::<FfiPoll<f64>>(), 16);
    assert_eq!(size_of::<FfiPoll<u8>>(), 2);
    assert_eq!(size_of::<FfiPoll<bool>>(), 2);
    assert_eq!(size_of::<FfiPoll<()>>(), 1);
    assert_eq!(size_of::<FfiContext<'_>>(), 8);
    assert_eq!(size_of::<FfiWakerBase>(), 8);
    assert_eq!(size_of::<FfiWakerVTable>(), 32);

    fn bytes<T>(p: &FfiPoll<T>) -> &[u8] {
        // SAFETY: reading the initialised bytes of a live value (tag and, for Ready, the value).
        unsafe { std::slice::from_raw_parts((p as *const FfiPoll<T>).cast::<u8>(), size_of::<FfiPoll<T>>()) }
    }
    assert_eq!(bytes(&FfiPoll::Ready(0x1122_3344_5566_7788u64))[0], 0);
    assert_eq!(
        &bytes(&FfiPoll::Ready(0x1122_3344_5566_7788u64))[8..],
        &0x1122_3344_5566_7788u64.to_ne_bytes()
    );
    assert_eq!(&bytes(&FfiPoll::Ready(-2i32))[4..], &(-2i32).to_ne_bytes());
    assert_eq!(bytes(&FfiPoll::Ready(7u8)), &[0, 7]);
    assert_eq!(bytes(&FfiPoll::<u64>::Pending)[0], 1);
    assert_eq!(bytes(&FfiPoll::<u64>::Panicked)[0], 2);
    assert_eq!(bytes(&FfiPoll::Ready(())), &[0]);
}

// ---------------------------------------------------------------------------------------------
// A test FFI waker (the host side, written against the raw vtable) that logs every call.

#[derive(Default)]
struct Log {
    calls: Mutex<Vec<String>>,
    owned_alive: AtomicUsize,
    wakes: AtomicUsize,
}

impl Log {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }
    fn push(&self, s: &str) {
        self.calls.lock().unwrap().push(s.to_owned());
    }
}

#[repr(C)]
struct TestWaker {
    base: FfiWakerBase,
    log: Arc<Log>,
    owned: bool,
}

static TEST_VTABLE: FfiWakerVTable =
    FfiWakerVTable { clone: test_clone, wake: test_wake, wake_by_ref: test_wake_by_ref, drop: test_drop };

// SAFETY (test_*): `p` is a `TestWaker` (the borrowed one on the test's stack, or an owned box
// from `test_clone`); the asserts check that only owned ones are woken by value or dropped.
unsafe extern "C" fn test_clone(p: *const FfiWakerBase) -> *const FfiWakerBase {
    // SAFETY: see above.
    let w = unsafe { &*p.cast::<TestWaker>() };
    w.log.push("clone");
    w.log.owned_alive.fetch_add(1, Ordering::SeqCst);
    Box::into_raw(Box::new(TestWaker {
        base: FfiWakerBase { vtable: &TEST_VTABLE },
        log: w.log.clone(),
        owned: true,
    }))
    .cast()
}
unsafe extern "C" fn test_wake(p: *const FfiWakerBase) {
    // SAFETY: see above.
    let w = unsafe { &*p.cast::<TestWaker>() };
    if !w.owned {
        // Must never happen; record it (panicking here would abort the test process).
        w.log.push("wake(BORROWED!)");
        return;
    }
    w.log.push("wake");
    w.log.wakes.fetch_add(1, Ordering::SeqCst);
    w.log.owned_alive.fetch_sub(1, Ordering::SeqCst);
    // SAFETY: owned, so it is a box from `test_clone`, consumed here.
    drop(unsafe { Box::from_raw(p.cast::<TestWaker>().cast_mut()) });
}
unsafe extern "C" fn test_wake_by_ref(p: *const FfiWakerBase) {
    // SAFETY: see above.
    let w = unsafe { &*p.cast::<TestWaker>() };
    w.log.push("wake_by_ref");
    w.log.wakes.fetch_add(1, Ordering::SeqCst);
}
unsafe extern "C" fn test_drop(p: *const FfiWakerBase) {
    // SAFETY: see above.
    let w = unsafe { &*p.cast::<TestWaker>() };
    if !w.owned {
        w.log.push("drop(BORROWED!)");
        return;
    }
    w.log.push("drop");
    w.log.owned_alive.fetch_sub(1, Ordering::SeqCst);
    // SAFETY: owned, so it is a box from `test_clone`, consumed here.
    drop(unsafe { Box::from_raw(p.cast::<TestWaker>().cast_mut()) });
}

/// Polls `fut` once through the raw C ABI with a borrowed `TestWaker` logging to `log`.
fn poll_raw<T>(fut: &mut FfiFuture<T>, log: &Arc<Log>) -> FfiPoll<T> {
    let borrowed = TestWaker { base: FfiWakerBase { vtable: &TEST_VTABLE }, log: log.clone(), owned: false };
    let (fut_ptr, poll_fn, drop_fn) =
        std::mem::replace(fut, FfiFuture::new(async { unreachable!() })).into_raw_parts();
    // SAFETY: `borrowed` lives across the call; the pointer covers the whole TestWaker.
    let mut cx = unsafe { FfiContext::from_raw(std::ptr::addr_of!(borrowed).cast()) };
    // SAFETY: the parts came from a live FfiFuture; the tests never poll after completion.
    let r = unsafe { poll_fn(fut_ptr, &mut cx) };
    // SAFETY: put the same parts back; the placeholder is dropped normally.
    *fut = unsafe { FfiFuture::from_raw_parts(fut_ptr, poll_fn, drop_fn) };
    r
}

/// The sequence from docs/abi.md / async-ffi's own test: one poll that clones, wakes by ref, clones
/// and drops must produce exactly `clone, wake_by_ref, clone, drop`; the next poll wakes the
/// remaining clone by value: `wake`. The borrowed waker is never woken by value nor dropped.
#[test]
fn waker_call_sequence_through_poll_fn() {
    let _s = serial();
    let owned_before = stats::owned_ffi_wakers();
    let polls_before = stats::polls_total();

    let mut state = 0u32;
    let mut kept: Option<Waker> = None;
    let mut fut = std::future::poll_fn(move |cx| match state {
        0 => {
            let w1 = cx.waker().clone();
            w1.wake_by_ref();
            let w2 = w1.clone();
            drop(w1);
            kept = Some(w2);
            state = 1;
            Poll::Pending
        }
        1 => {
            kept.take().unwrap().wake();
            state = 2;
            Poll::Ready(42u32)
        }
        _ => unreachable!(),
    })
    .into_ffi();

    let log = Arc::new(Log::default());
    assert_eq!(poll_raw(&mut fut, &log), FfiPoll::Pending);
    assert_eq!(log.take(), ["clone", "wake_by_ref", "clone", "drop"]);
    assert_eq!(log.owned_alive.load(Ordering::SeqCst), 1);
    assert_eq!(stats::owned_ffi_wakers() - owned_before, 1);

    assert_eq!(poll_raw(&mut fut, &log), FfiPoll::Ready(42));
    assert_eq!(log.take(), ["wake"]);
    assert_eq!(log.owned_alive.load(Ordering::SeqCst), 0);
    assert_eq!(stats::owned_ffi_wakers(), owned_before);
    assert_eq!(stats::polls_total() - polls_before, 2);

    drop(fut);
    assert_eq!(log.take(), Vec::<String>::new());
}

/// A clone kept inside the future is FFI-dropped when the future is dropped.
#[test]
fn kept_clone_is_dropped_with_the_future() {
    let _s = serial();
    let owned_before = stats::owned_ffi_wakers();
    let mut kept: Option<Waker> = None;
    let mut fut = std::future::poll_fn(move |cx| {
        kept.get_or_insert_with(|| cx.waker().clone());
        Poll::<()>::Pending
    })
    .into_ffi();
    let log = Arc::new(Log::default());
    assert_eq!(poll_raw(&mut fut, &log), FfiPoll::Pending);
    // The future keeps its first clone: a second poll does not clone again.
    assert_eq!(poll_raw(&mut fut, &log), FfiPoll::Pending);
    assert_eq!(log.take(), ["clone"]);
    assert_eq!(stats::owned_ffi_wakers() - owned_before, 1);
    drop(fut);
    assert_eq!(log.take(), ["drop"]);
    assert_eq!(log.owned_alive.load(Ordering::SeqCst), 0);
    assert_eq!(stats::owned_ffi_wakers(), owned_before);
}

/// A clone woken from another thread, after the future completed and was dropped.
#[test]
fn late_wake_from_another_thread() {
    let _s = serial();
    let owned_before = stats::owned_ffi_wakers();
    let (tx, rx) = std::sync::mpsc::channel::<Waker>();
    let waker_thread = thread::spawn(move || {
        let w = rx.recv().unwrap();
        thread::sleep(Duration::from_millis(20));
        w.wake();
    });
    let mut fut = std::future::poll_fn(move |cx| {
        tx.send(cx.waker().clone()).unwrap();
        Poll::Ready(7u32)
    })
    .into_ffi();
    let log = Arc::new(Log::default());
    assert_eq!(poll_raw(&mut fut, &log), FfiPoll::Ready(7));
    drop(fut);
    waker_thread.join().unwrap();
    assert_eq!(log.take(), ["clone", "wake"]);
    assert_eq!(stats::owned_ffi_wakers(), owned_before);
}

#[test]
fn panic_in_poll_becomes_panicked() {
    let _s = serial();
    let mut fut = async {
        panic!("boom (expected by the test)");
    }
    .into_ffi();
    let log = Arc::new(Log::default());
    assert_eq!(poll_raw::<u32>(&mut fut, &log), FfiPoll::Panicked);
    drop(fut);
}

#[test]
fn panic_message_and_location_are_kept_for_the_host() {
    let _s = serial();
    let n = 3;
    let line = line!() + 2;
    let mut fut = async move {
        panic!("boom {n} (expected by the test)");
    }
    .into_ffi();
    let log = Arc::new(Log::default());
    assert_eq!(poll_raw::<u32>(&mut fut, &log), FfiPoll::Panicked);
    let mut buf = [0u8; 512];
    // SAFETY: buf is writable for its length.
    let len = unsafe { crate::panic::rustplug_take_panic(buf.as_mut_ptr(), buf.len()) };
    let record = std::str::from_utf8(&buf[..len]).unwrap();
    let (when, text) = record.split_once(' ').unwrap();
    assert!(when.parse::<u128>().unwrap() > 0);
    assert_eq!(text, format!("boom 3 (expected by the test) at {}:{line}:9", file!()));
    // Taken: the slot is empty until the next caught panic.
    // SAFETY: a null buffer with cap 0 is allowed.
    assert_eq!(unsafe { crate::panic::rustplug_take_panic(std::ptr::null_mut(), 0) }, 0);
    drop(fut);
}

#[test]
fn drop_fn_drops_the_future_once() {
    struct Dropper(#[allow(dead_code)] Arc<()>);
    let rc = Arc::new(());
    let d = Dropper(rc.clone());
    let fut = async move {
        let _d = d;
    }
    .into_ffi();
    assert_eq!(Arc::strong_count(&rc), 2);
    drop(fut);
    assert_eq!(Arc::strong_count(&rc), 1);
}

// ---------------------------------------------------------------------------------------------
// The importing side (FfiFuture: Future) with a tiny thread-parking executor.

struct ThreadWaker(thread::Thread);
impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        thread::park();
    }
}

#[test]
fn await_through_ffi() {
    let _s = serial();
    async fn add(x: u32) -> u32 {
        x + 42
    }
    assert_eq!(block_on(add(1).into_ffi()), 43);
    assert_eq!(block_on(async { add(2).into_ffi().await + add(3).into_local_ffi().await }), 44 + 45);
}

#[test]
fn await_wake_from_thread_through_ffi() {
    let _s = serial();
    let owned_before = stats::owned_ffi_wakers();
    let fut = {
        let mut started: Option<Arc<Mutex<Option<u64>>>> = None;
        std::future::poll_fn(move |cx| {
            let slot = started.get_or_insert_with(|| {
                let slot = Arc::new(Mutex::new(None));
                let (slot2, waker) = (slot.clone(), cx.waker().clone());
                thread::spawn(move || {
                    thread::sleep(Duration::from_millis(10));
                    *slot2.lock().unwrap() = Some(99);
                    waker.wake();
                });
                slot
            });
            match *slot.lock().unwrap() {
                Some(v) => Poll::Ready(v),
                None => Poll::Pending,
            }
        })
    };
    assert_eq!(block_on(fut.into_ffi()), 99);
    assert_eq!(stats::owned_ffi_wakers(), owned_before);
}

/// async-ffi's own `waker_test`: a std waker seen through FfiFuture's Future impl.
#[test]
fn std_waker_sequence_through_future_impl() {
    let _s = serial();
    static VTABLE: RawWakerVTable = {
        unsafe fn log(data: *const (), s: &str) {
            // SAFETY: `data` is the `Mutex<Vec<String>>` owned by the test below.
            unsafe { &*data.cast::<Mutex<Vec<String>>>() }.lock().unwrap().push(s.to_owned());
        }
        unsafe fn clone(data: *const ()) -> RawWaker {
            // SAFETY: as in `log`.
            unsafe { log(data, "clone") };
            RawWaker::new(data, &VTABLE)
        }
        unsafe fn wake(data: *const ()) {
            // SAFETY: as in `log`.
            unsafe { log(data, "wake") }
        }
        unsafe fn wake_by_ref(data: *const ()) {
            // SAFETY: as in `log`.
            unsafe { log(data, "wake_by_ref") }
        }
        unsafe fn drop(data: *const ()) {
            // SAFETY: as in `log`.
            unsafe { log(data, "drop") }
        }
        RawWakerVTable::new(clone, wake, wake_by_ref, drop)
    };

    struct Fut(usize, Option<Waker>);
    impl Future for Fut {
        type Output = i32;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<i32> {
            let w = cx.waker();
            match self.0 {
                0 => {
                    w.wake_by_ref();
                    self.0 = 1;
                    Poll::Pending
                }
                1 => {
                    let w2 = w.clone();
                    w2.wake_by_ref();
                    self.1 = Some(w2.clone());
                    drop(w2);
                    self.0 = 2;
                    Poll::Pending
                }
                2 => {
                    self.1.take().unwrap().wake();
                    self.0 = 3;
                    Poll::Ready(42)
                }
                _ => unreachable!(),
            }
        }
    }

    let calls: Mutex<Vec<String>> = Mutex::new(Vec::new());
    // SAFETY: `calls` outlives `waker` (declared earlier, dropped later).
    let waker =
        unsafe { Waker::from_raw(RawWaker::new((&calls as *const Mutex<Vec<String>>).cast(), &VTABLE)) };
    let mut cx = Context::from_waker(&waker);
    let look = || std::mem::take(&mut *calls.lock().unwrap());

    let mut fut = Fut(0, None).into_ffi();
    assert_eq!(Pin::new(&mut fut).poll(&mut cx), Poll::Pending);
    assert_eq!(look(), ["wake_by_ref"]);
    assert_eq!(Pin::new(&mut fut).poll(&mut cx), Poll::Pending);
    assert_eq!(look(), ["clone", "wake_by_ref", "clone", "drop"]);
    assert_eq!(Pin::new(&mut fut).poll(&mut cx), Poll::Ready(42));
    assert_eq!(look(), ["wake"]);
    drop(fut);
    drop(waker);
    assert_eq!(look(), ["drop"]);
}

#[test]
fn local_future_need_not_be_send() {
    let _s = serial();
    async fn foo(x: u32) -> u32 {
        let a = Rc::new(x);
        std::future::ready(()).await;
        *a + 42
    }
    assert_eq!(block_on(foo(1).into_local_ffi()), 43);
}

#[test]
#[should_panic = "FFI future panicked"]
fn panicked_is_re_raised_by_the_future_impl() {
    let _s = serial();
    block_on(
        async {
            panic!("not caught inside (expected by the test)");
        }
        .into_ffi(),
    )
}

#[test]
fn panic_caught_inside_is_fine() {
    let _s = serial();
    let fut = async {
        let r = std::panic::catch_unwind(|| panic!("already caught inside (expected by the test)"));
        assert!(r.is_err());
        42
    }
    .into_ffi();
    assert_eq!(block_on(fut), 42);
}
