// The async-ffi ABI (async-ffi 0.5, ABI_VERSION 2), as rustplug's native side sees it.
// This file is the one native statement of these layouts; shared/abi.md is the reference and
// src/abi.ts holds the same facts for the koffi (struct-result) path.
#pragma once

#include <cstddef>
#include <cstdint>

namespace rustplug {

struct FfiWakerVTable;

// A plugin only ever sees a pointer to this; the host may put its own data after it.
struct FfiWakerBase {
  const FfiWakerVTable* vtable;
};

struct FfiWakerVTable {
  const FfiWakerBase* (*clone)(const FfiWakerBase*);
  void (*wake)(const FfiWakerBase*);
  void (*wake_by_ref)(const FfiWakerBase*);
  void (*drop)(const FfiWakerBase*);
};

struct FfiContext {
  const FfiWakerBase* waker;  // borrowed for the duration of one poll call
};

// FfiPoll<T> is `repr(C, u8)`: a u8 tag, then T at its natural alignment. A C struct of the same
// shape gets the same size, alignment and return convention from the C++ compiler, so calling
// poll_fn through these types is the platform ABI, not a hand-rolled one.
// FfiFuture<T> / LocalFfiFuture<T>: 24 bytes, so x86_64 SysV returns it through a hidden result
// pointer; declaring the function as returning this struct lets the compiler do exactly that.
struct FfiFutureRaw {
  void* fut_ptr;
  void* poll_fn;
  void* drop_fn;
};
static_assert(sizeof(FfiFutureRaw) == 24, "FfiFuture<T>: fut_ptr, poll_fn, drop_fn");

enum PollTag : uint8_t { kPollReady = 0, kPollPending = 1, kPollPanicked = 2 };

template <typename T>
struct FfiPoll {
  uint8_t tag;
  T value;
};

struct FfiPollUnit {  // FfiPoll<()>: the tag alone
  uint8_t tag;
};

template <typename T>
using PollFn = FfiPoll<T> (*)(void* fut_ptr, FfiContext* cx);
using PollUnitFn = FfiPollUnit (*)(void* fut_ptr, FfiContext* cx);
using DropFn = void (*)(void* fut_ptr);

static_assert(sizeof(FfiWakerVTable) == 32, "vtable: clone, wake, wake_by_ref, drop");
static_assert(sizeof(FfiPoll<int32_t>) == 8 && offsetof(FfiPoll<int32_t>, value) == 4, "FfiPoll<i32>");
static_assert(sizeof(FfiPoll<uint64_t>) == 16 && offsetof(FfiPoll<uint64_t>, value) == 8, "FfiPoll<u64>");
static_assert(sizeof(FfiPoll<double>) == 16 && offsetof(FfiPoll<double>, value) == 8, "FfiPoll<f64>");
static_assert(sizeof(FfiPoll<uint8_t>) == 2 && offsetof(FfiPoll<uint8_t>, value) == 1, "FfiPoll<u8>");
static_assert(sizeof(FfiPollUnit) == 1, "FfiPoll<()>");

// How the result of a future is read. Scalar kinds are polled natively; kJs defers the poll to a
// JS function (koffi with a struct result type) for struct results.
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
  kJs,
  kResultKindCount
};

}  // namespace rustplug
