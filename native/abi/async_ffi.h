// The async-ffi ABI (async-ffi 0.5, ABI_VERSION 2) as the host sees it: the one native statement
// of these layouts (docs/abi.md is the reference). Every type states who owns each pointer and
// which threads may touch it, because the plugin side is compiled by another compiler and cannot
// be checked: these comments are the contract.
#pragma once

#include <cstddef>
#include <cstdint>

namespace rustplug {

struct FfiWakerVTable;

// What a plugin receives as a waker. Invariant: a plugin only ever dereferences `vtable`; the host
// places its own state after this header (runtime/waker.h) and casts back.
struct FfiWakerBase {
  const FfiWakerVTable* vtable;
};

// Called by plugin code, on any thread, at any time (also after the future completed, was
// dropped, or the environment that owns it went away); so every slot must be thread-safe, must
// tolerate a dead task, and must never unwind (a C++ exception crossing into Rust is UB).
// - clone: returns a new owned pointer (+1 reference).
// - wake: consumes an owned pointer; wake_by_ref: borrows one.
// - drop: consumes an owned pointer without waking.
// The borrowed waker of an FfiContext is never passed to wake or drop.
struct FfiWakerVTable {
  const FfiWakerBase* (*clone)(const FfiWakerBase*) noexcept;
  void (*wake)(const FfiWakerBase*) noexcept;
  void (*wake_by_ref)(const FfiWakerBase*) noexcept;
  void (*drop)(const FfiWakerBase*) noexcept;
};
static_assert(sizeof(FfiWakerVTable) == 32, "vtable: clone @0, wake @8, wake_by_ref @16, drop @24");

// Passed to poll_fn. Invariant: `waker` is borrowed for the duration of that one call; the host
// keeps it alive until poll_fn returns.
struct FfiContext {
  const FfiWakerBase* waker;
};

// FfiFuture<T> / LocalFfiFuture<T>, returned by value. Owned by whoever holds it: after the host
// takes it over, only the host's JS thread calls poll_fn and drop_fn, never concurrently, and
// drop_fn exactly once. Zero-initialise before a call: a function that does not really return an
// FfiFuture leaves it null, which the host rejects instead of calling garbage.
struct FfiFutureRaw {
  void* fut_ptr;
  void* poll_fn;
  void* drop_fn;
};
static_assert(sizeof(FfiFutureRaw) == 24, "FfiFuture<T>: fut_ptr @0, poll_fn @8, drop_fn @16");

// FfiPoll<T> is `repr(C, u8)`: a u8 tag, then T at its natural alignment. A C struct of the same
// shape gets the same size, alignment and return convention from the C++ compiler, so calling
// poll_fn through these types is the platform ABI, not a hand-rolled one. The value bytes are
// meaningful only when the tag is Ready.
enum PollTag : uint8_t { kPollReady = 0, kPollPending = 1, kPollPanicked = 2 };

template <typename T>
struct FfiPoll {
  uint8_t tag;
  T value;
};

struct FfiPollUnit {  // FfiPoll<()>: the tag alone
  uint8_t tag;
};

// Streams (async-ffi's issue #19 shape; docs/abi.md): FfiStream<T> has FfiFutureRaw's layout
// (stream_ptr, poll_next_fn, drop_fn) and poll_next_fn returns FfiPoll<FfiOption<T>>: the poll
// tag, then at its alignment FfiOption<T> = a u8 option tag and T at its own alignment. The
// host polls only while it wants an item, never after Ready(None) or Panicked, and calls drop_fn
// exactly once.
enum OptionTag : uint8_t { kOptionNone = 0, kOptionSome = 1 };

template <typename T>
struct FfiOption {
  uint8_t tag;
  T value;
};

struct FfiOptionUnit {  // FfiOption<()>
  uint8_t tag;
};

template <typename T>
using PollFn = FfiPoll<T> (*)(void* fut_ptr, FfiContext* cx);
using PollUnitFn = FfiPollUnit (*)(void* fut_ptr, FfiContext* cx);
using DropFn = void (*)(void* fut_ptr);
// A plugin's `extern "C" fn(*mut c_char)` that frees a string it returned.
using FreeFn = void (*)(void* ptr);

static_assert(sizeof(FfiPoll<int32_t>) == 8 && offsetof(FfiPoll<int32_t>, value) == 4, "FfiPoll<i32>");
static_assert(sizeof(FfiPoll<uint64_t>) == 16 && offsetof(FfiPoll<uint64_t>, value) == 8, "FfiPoll<u64>");
static_assert(sizeof(FfiPoll<double>) == 16 && offsetof(FfiPoll<double>, value) == 8, "FfiPoll<f64>");
static_assert(sizeof(FfiPoll<uint8_t>) == 2 && offsetof(FfiPoll<uint8_t>, value) == 1, "FfiPoll<u8>");
static_assert(sizeof(FfiPollUnit) == 1, "FfiPoll<()>");
static_assert(sizeof(FfiPoll<FfiOption<uint64_t>>) == 24 && offsetof(FfiPoll<FfiOption<uint64_t>>, value) == 8,
              "FfiPoll<FfiOption<u64>>: tag, option @8 (its value @16)");
static_assert(sizeof(FfiPoll<FfiOption<uint32_t>>) == 12 && offsetof(FfiPoll<FfiOption<uint32_t>>, value) == 4,
              "FfiPoll<FfiOption<u32>>: tag, option @4 (its value @8)");
static_assert(sizeof(FfiPoll<FfiOptionUnit>) == 2, "FfiPoll<FfiOption<()>>");

// JsResult<T>: what a future that a JS callback handed to the plugin yields (docs/abi.md).
// repr(C, u8): tag Ok = 0 with T, Err = 1 with a NUL-terminated UTF-8 message (the rejection's
// text) that the host owns until the plugin drops the future. The payload is a union of T and the
// message pointer, so it sits at the larger of their alignments.
enum JsResultTag : uint8_t { kJsOk = 0, kJsErr = 1 };

template <typename T>
struct JsResult {
  uint8_t tag;
  union {
    T ok;
    const char* err;
  } v;
};

struct JsResultUnit {  // JsResult<()>
  uint8_t tag;
  union {
    const char* err;
  } v;
};
static_assert(sizeof(JsResult<uint32_t>) == 16 && offsetof(JsResult<uint32_t>, v) == 8, "JsResult<u32>: payload @8");
static_assert(sizeof(JsResultUnit) == 16, "JsResult<()>: tag, message @8");

// How a future's Ready value is read (drivers/). Exported to JS by name (abi/facts.cc).
enum ResultKind : uint8_t {
  kVoid = 0,
  kBool,
  kI8,
  kU8,
  kI16,
  kU16,
  kI32,
  kU32,
  kI64,
  kU64,
  kF32,
  kF64,
  kPointer,
  kString,  // a pointer to a NUL-terminated UTF-8 string, copied and then freed by the symbol's free fn
  kJs,      // a struct: polled by a JS function (koffi knows the FfiPoll<Struct> return)
  kResultKindCount
};

}  // namespace rustplug
