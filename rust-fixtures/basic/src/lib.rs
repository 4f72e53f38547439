//! `basic`: synchronous `extern "C"` exports for rustplug's tests.
//!
//! Built twice from this one file: as a cdylib (`libbasic.so`, crate `basic`) and as a Rust dylib
//! with `-C prefer-dynamic` (`libbasic_dylib.so`, crate `basic-dylib`, which NEEDs
//! `libstd-<hash>.so`). Every export is `#[no_mangle] pub extern "C"`; only `repr(C)` types cross.
//!
//! Null pointers: string inputs that are null read as the empty string; `*_free_*`, `fill_bytes`,
//! `point_scale_in_place` and `point_norm_ptr` accept null (no-op / NaN); `sum_bytes(null, _)` is 0.
#![deny(unsafe_op_in_unsafe_fn)]
// The functions take raw pointers by design: they are called from C/JS, never from Rust.
#![allow(clippy::not_unsafe_ptr_arg_deref, clippy::missing_safety_doc)]

use std::borrow::Cow;
use std::ffi::{c_char, c_void, CStr, CString};
use std::sync::atomic::{AtomicI64, Ordering};

// ---------------------------------------------------------------------------------------------
// Arithmetic

#[no_mangle]
pub extern "C" fn add(a: i32, b: i32) -> i32 {
    a.wrapping_add(b)
}

#[no_mangle]
pub extern "C" fn scale(a: f64, b: f64) -> f64 {
    a * b
}

// ---------------------------------------------------------------------------------------------
// Strings

static STRINGS_ALIVE: AtomicI64 = AtomicI64::new(0);

/// Reads a C string lossily; null reads as "".
///
/// # Safety
/// `s` is null or points to a NUL-terminated string valid for the returned lifetime.
unsafe fn read_str<'a>(s: *const c_char) -> Cow<'a, str> {
    if s.is_null() {
        return Cow::Borrowed("");
    }
    // SAFETY: non-null and NUL-terminated (the caller's contract).
    unsafe { CStr::from_ptr(s) }.to_string_lossy()
}

/// A new string "Hello, {name}!"; free it with `basic_free_string`.
#[no_mangle]
pub extern "C" fn greet(name: *const c_char) -> *mut c_char {
    // SAFETY: the caller passes null or a valid C string that outlives this call.
    let name = unsafe { read_str(name) };
    // "Hello, …!" cannot contain NUL: the lossy conversion stops at the input's NUL.
    let s = CString::new(format!("Hello, {name}!")).expect("no interior NUL");
    STRINGS_ALIVE.fetch_add(1, Ordering::SeqCst);
    s.into_raw()
}

/// Frees a string returned by `greet`. Null is a no-op.
#[no_mangle]
pub extern "C" fn basic_free_string(s: *mut c_char) {
    if s.is_null() {
        return;
    }
    // SAFETY: `s` came from `CString::into_raw` in `greet` and is freed once (caller's contract).
    drop(unsafe { CString::from_raw(s) });
    STRINGS_ALIVE.fetch_sub(1, Ordering::SeqCst);
}

/// Strings returned by `greet` and not yet freed.
#[no_mangle]
pub extern "C" fn strings_alive() -> i64 {
    STRINGS_ALIVE.load(Ordering::SeqCst)
}

/// A static string, never to be freed.
#[no_mangle]
pub extern "C" fn version() -> *const c_char {
    c"basic 1.0.0".as_ptr()
}

/// Byte length of a C string (0 for null).
#[no_mangle]
pub extern "C" fn str_len(s: *const c_char) -> usize {
    if s.is_null() {
        return 0;
    }
    // SAFETY: non-null and NUL-terminated (the caller's contract).
    unsafe { CStr::from_ptr(s) }.to_bytes().len()
}

// ---------------------------------------------------------------------------------------------
// Echo: each returns its argument unchanged

macro_rules! echo {
    ($($name:ident: $t:ty),* $(,)?) => {$(
        #[no_mangle]
        pub extern "C" fn $name(v: $t) -> $t {
            v
        }
    )*};
}

echo!(
    echo_i8: i8,
    echo_u8: u8,
    echo_i16: i16,
    echo_u16: u16,
    echo_i32: i32,
    echo_u32: u32,
    echo_i64: i64,
    echo_u64: u64,
    echo_isize: isize,
    echo_usize: usize,
    echo_f32: f32,
    echo_f64: f64,
    echo_bool: bool,
    echo_pointer: *mut c_void,
);

#[no_mangle]
pub extern "C" fn not_bool(v: bool) -> bool {
    !v
}

#[no_mangle]
pub extern "C" fn u64_max() -> u64 {
    u64::MAX
}

#[no_mangle]
pub extern "C" fn i64_min() -> i64 {
    i64::MIN
}

// ---------------------------------------------------------------------------------------------
// Buffers

/// Sum of `len` bytes at `ptr` (0 when `ptr` is null).
#[no_mangle]
pub extern "C" fn sum_bytes(ptr: *const u8, len: usize) -> u64 {
    if ptr.is_null() || len == 0 {
        return 0;
    }
    // SAFETY: `ptr` points to `len` readable bytes (the caller's contract).
    let bytes = unsafe { std::slice::from_raw_parts(ptr, len) };
    bytes.iter().map(|&b| u64::from(b)).sum()
}

/// Sets `len` bytes at `ptr` to `value` (no-op when `ptr` is null).
#[no_mangle]
pub extern "C" fn fill_bytes(ptr: *mut u8, len: usize, value: u8) {
    if ptr.is_null() || len == 0 {
        return;
    }
    // SAFETY: `ptr` points to `len` writable bytes (the caller's contract).
    unsafe { std::ptr::write_bytes(ptr, value, len) }
}

// ---------------------------------------------------------------------------------------------
// Structs

#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub x: f64,
    pub y: f64,
}

/// *p + 1.0; NaN for null: a pointer to a scalar.
#[no_mangle]
pub extern "C" fn f64_ptr_inc(p: *const f64) -> f64 {
    // SAFETY: null or a valid f64 for the call.
    unsafe { p.as_ref() }.map_or(f64::NAN, |v| v + 1.0)
}

/// Size 24, align 8: a u8, 3 bytes padding, i32 @4, u64 @8, f32 @16, 4 bytes padding.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mixed {
    pub a: u8,
    pub b: i32,
    pub c: u64,
    pub d: f32,
}

#[no_mangle]
pub extern "C" fn point_len(p: Point) -> f64 {
    p.x.hypot(p.y)
}

#[no_mangle]
pub extern "C" fn point_add(a: Point, b: Point) -> Point {
    Point { x: a.x + b.x, y: a.y + b.y }
}

/// Multiplies both coordinates by `k` in place (no-op for null).
#[no_mangle]
pub extern "C" fn point_scale_in_place(p: *mut Point, k: f64) {
    // SAFETY: null or a valid, exclusive `Point` (the caller's contract).
    if let Some(p) = unsafe { p.as_mut() } {
        p.x *= k;
        p.y *= k;
    }
}

/// Length of `*p` (NaN for null).
#[no_mangle]
pub extern "C" fn point_norm_ptr(p: *const Point) -> f64 {
    // SAFETY: null or a valid `Point` (the caller's contract).
    match unsafe { p.as_ref() } {
        Some(p) => point_len(*p),
        None => f64::NAN,
    }
}

#[no_mangle]
pub extern "C" fn mixed_make(a: u8, b: i32, c: u64, d: f32) -> Mixed {
    Mixed { a, b, c, d }
}

/// a + b + c + d as f64.
#[no_mangle]
pub extern "C" fn mixed_sum(m: Mixed) -> f64 {
    f64::from(m.a) + f64::from(m.b) + m.c as f64 + f64::from(m.d)
}

// ---------------------------------------------------------------------------------------------
// Out-params

/// Writes a / b and a % b (wrapping, so i32::MIN / -1 does not panic). Returns false and writes
/// nothing when b == 0. Null out-pointers are skipped.
#[no_mangle]
pub extern "C" fn divmod(a: i32, b: i32, q: *mut i32, r: *mut i32) -> bool {
    if b == 0 {
        return false;
    }
    // SAFETY: each is null or a valid, writable i32 (the caller's contract).
    unsafe {
        if let Some(q) = q.as_mut() {
            *q = a.wrapping_div(b);
        }
        if let Some(r) = r.as_mut() {
            *r = a.wrapping_rem(b);
        }
    }
    true
}

// ---------------------------------------------------------------------------------------------
// Callbacks

/// cb(cb(x)).
#[no_mangle]
pub extern "C" fn apply_twice(cb: extern "C" fn(i32) -> i32, x: i32) -> i32 {
    cb(cb(x))
}

/// Calls cb(0), cb(1), …, cb(n - 1).
#[no_mangle]
pub extern "C" fn call_n(cb: extern "C" fn(u32), n: u32) {
    for i in 0..n {
        cb(i);
    }
}

/// cb(a, b).
#[no_mangle]
pub extern "C" fn sum_with(cb: extern "C" fn(f64, f64) -> f64, a: f64, b: f64) -> f64 {
    cb(a, b)
}

/// cb(cb(x)) where the callback takes and returns a struct by value.
#[no_mangle]
pub extern "C" fn point_map(cb: extern "C" fn(Point) -> Point, p: Point) -> Point {
    cb(cb(p))
}

/// cb(x) called on a new std thread, which this call joins: a callback from a foreign thread while
/// the caller waits (rustplug must refuse it rather than deadlock).
#[no_mangle]
pub extern "C" fn call_on_thread(cb: extern "C" fn(i32) -> i32, x: i32) -> i32 {
    std::thread::spawn(move || cb(x)).join().unwrap_or(i32::MIN)
}

// ---------------------------------------------------------------------------------------------
// Panics

/// Panics with no catch_unwind: the panic cannot unwind out of an `extern "C"` function, so Rust
/// aborts the process ("panic in a function that cannot unwind"). For child-process tests only.
#[no_mangle]
pub extern "C" fn panic_now() {
    panic!("panic_now: this aborts the process");
}

/// Panics inside `catch_unwind` and returns -1.
#[no_mangle]
pub extern "C" fn caught_panic() -> i32 {
    std::panic::catch_unwind(|| -> i32 { panic!("caught_panic: caught inside the plugin") }).unwrap_or(-1)
}

// ---------------------------------------------------------------------------------------------
// Benchmark exports (bench/: the sync call list; rust-fixtures/c/cbench.c has the same in C)

/// Does nothing: the bare cost of a call.
#[no_mangle]
pub extern "C" fn nop() {}

#[no_mangle]
pub extern "C" fn addf(a: f64, b: f64) -> f64 {
    a + b
}

/// Sum of the 64 bytes at `p` (0 when `p` is null).
#[no_mangle]
pub extern "C" fn sum64(p: *const u8) -> u32 {
    if p.is_null() {
        return 0;
    }
    // SAFETY: `p` points to 64 readable bytes (the caller's contract).
    let bytes = unsafe { std::slice::from_raw_parts(p, 64) };
    bytes.iter().map(|&b| u32::from(b)).sum()
}

/// A struct in and out by value: `{ x: p.y, y: p.x }`.
#[no_mangle]
pub extern "C" fn point_swap(p: Point) -> Point {
    Point { x: p.y, y: p.x }
}

/// Returns its argument: a string round trip (the host encodes, the host decodes the same bytes;
/// borrowed, never freed). Null stays null.
#[no_mangle]
pub extern "C" fn str_echo(s: *const c_char) -> *const c_char {
    s
}

// ---------------------------------------------------------------------------------------------
// Register assignment (the sync fast path calls these itself): each argument's weight is its
// position, so a value landing in another argument's register changes the result.

/// Integer and float classes interleaved, every width: sum of (i + 1) * arg_i.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn regs_mix(
    a: i8,
    x: f32,
    b: u16,
    y: f64,
    c: i64,
    z: f32,
    d: u64,
    e: bool,
    f: usize,
    w: f64,
) -> f64 {
    a as f64
        + 2.0 * x as f64
        + 3.0 * b as f64
        + 4.0 * y
        + 5.0 * c as f64
        + 6.0 * z as f64
        + 7.0 * d as f64
        + if e { 8.0 } else { 0.0 }
        + 9.0 * f as f64
        + 10.0 * w
}

/// Every argument register of x86_64 System V: six integer, eight floating point.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn regs_full(
    a: i64,
    b: i64,
    c: i64,
    d: i64,
    e: i64,
    f: i64,
    x0: f64,
    x1: f64,
    x2: f64,
    x3: f64,
    x4: f64,
    x5: f64,
    x6: f64,
    x7: f64,
) -> f64 {
    let ints = [a, b, c, d, e, f];
    let floats = [x0, x1, x2, x3, x4, x5, x6, x7];
    let mut sum = 0.0;
    for (i, v) in ints.iter().enumerate() {
        sum += (i + 1) as f64 * *v as f64;
    }
    for (i, v) in floats.iter().enumerate() {
        sum += (i + 7) as f64 * v;
    }
    sum
}

/// One integer argument more than the registers hold: the seventh goes on the stack.
#[no_mangle]
pub extern "C" fn regs_spill(a: i32, b: i32, c: i32, d: i32, e: i32, f: i32, g: i32) -> i64 {
    [a, b, c, d, e, f, g].iter().enumerate().map(|(i, v)| (i as i64 + 1) * *v as i64).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{align_of, offset_of, size_of};

    #[test]
    fn layouts() {
        assert_eq!((size_of::<Point>(), align_of::<Point>()), (16, 8));
        assert_eq!((size_of::<Mixed>(), align_of::<Mixed>()), (24, 8));
        assert_eq!([offset_of!(Mixed, b), offset_of!(Mixed, c), offset_of!(Mixed, d)], [4, 8, 16]);
    }

    #[test]
    fn strings() {
        let s = greet(c"Ada".as_ptr());
        // SAFETY: `greet` returns a valid C string.
        assert_eq!(unsafe { CStr::from_ptr(s) }.to_str().unwrap(), "Hello, Ada!");
        assert_eq!(str_len(s), 11);
        basic_free_string(s);
        basic_free_string(std::ptr::null_mut());
        // SAFETY: `version` returns a static C string.
        assert_eq!(unsafe { CStr::from_ptr(version()) }.to_str().unwrap(), "basic 1.0.0");
    }

    #[test]
    fn numbers_and_structs() {
        assert_eq!(add(i32::MAX, 1), i32::MIN);
        assert_eq!(mixed_sum(mixed_make(1, -2, 3, 0.5)), 2.5);
        assert_eq!(point_len(Point { x: 3.0, y: 4.0 }), 5.0);
        let mut p = Point { x: 1.0, y: 2.0 };
        point_scale_in_place(&mut p, 3.0);
        assert_eq!(p, Point { x: 3.0, y: 6.0 });
        let (mut q, mut r) = (0, 0);
        assert!(divmod(7, 2, &mut q, &mut r));
        assert_eq!((q, r), (3, 1));
        assert!(!divmod(7, 0, &mut q, &mut r));
        assert_eq!((q, r), (3, 1));
        let mut buf = [0u8; 4];
        fill_bytes(buf.as_mut_ptr(), buf.len(), 9);
        assert_eq!(sum_bytes(buf.as_ptr(), buf.len()), 36);
        assert_eq!(caught_panic(), -1);
    }

    #[test]
    fn callbacks() {
        extern "C" fn inc(x: i32) -> i32 {
            x + 1
        }
        extern "C" fn mul(a: f64, b: f64) -> f64 {
            a * b
        }
        assert_eq!(apply_twice(inc, 1), 3);
        assert_eq!(sum_with(mul, 2.0, 4.0), 8.0);
        extern "C" fn flip(p: Point) -> Point {
            Point { x: p.y, y: -p.x }
        }
        assert_eq!(point_map(flip, Point { x: 1.0, y: 2.0 }), Point { x: -1.0, y: -2.0 });
        assert_eq!(call_on_thread(inc, 41), 42);
        assert_eq!(f64_ptr_inc(&1.5), 2.5);
        assert!(f64_ptr_inc(std::ptr::null()).is_nan());
    }

    #[test]
    fn bench_exports() {
        nop();
        assert_eq!(addf(1.5, 2.0), 3.5);
        let buf: Vec<u8> = (0..64).collect();
        assert_eq!(sum64(buf.as_ptr()), 2016);
        assert_eq!(sum64(std::ptr::null()), 0);
        assert_eq!(point_swap(Point { x: 1.0, y: 2.0 }), Point { x: 2.0, y: 1.0 });
        let s = c"hi";
        assert_eq!(str_echo(s.as_ptr()), s.as_ptr());
    }
}
