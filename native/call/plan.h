// The per-ABI call planner: plan(argument classes) → a plan, or "unsupported" (the caller then
// goes through koffi), and call(plan, fn, args). Two call shapes: a call that returns an
// FfiFuture (the async path) and a sync call whose arguments and result all travel in registers
// (the sync fast path). One file per ABI implements them (x86_64_sysv.cc; unsupported.cc
// elsewhere); the rest of the addon never asks which machine it runs on.
#pragma once

#include <node_api.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "../abi/async_ffi.h"

namespace rustplug {

// How an argument travels, from the declaration: integers, bool, pointers, strings and buffers
// are integer class; f64 and f32 are floating point. Exported to JS by name (abi/facts.cc).
enum ArgClass : uint8_t { kArgInteger = 0, kArgF64 = 1, kArgF32 = 2, kArgClassCount };

constexpr size_t kMaxPlannedArgs = 16;
constexpr size_t kFrameWords = 8;
constexpr size_t kFrameFloats = 8;

struct CallPlan {
  uint8_t argc = 0;
  ArgClass cls[kMaxPlannedArgs] = {};
  uint8_t slot[kMaxPlannedArgs] = {};  // index into CallFrame::words or ::floats
};

// The argument registers as the callee will see them.
struct CallFrame {
  uint64_t words[kFrameWords] = {};
  double floats[kFrameFloats] = {};
};

// The sync fast path's frame: JS writes the argument registers into it (typed arrays over one
// ArrayBuffer per environment), the addon calls from it and writes the result register back.
// Calls on one JS thread nest but never interleave: the addon reads every argument before the
// plugin runs and writes the result after it returns, so a nested call may reuse the frame.
// Offsets are exported to JS (abi/facts.cc).
struct SyncFrame {
  CallFrame args;
  uint64_t result = 0;  // RAX as the callee left it, or the double / the float in the low bytes
};

struct RegisterBudget {
  size_t integer;
  size_t floats;
};

// ---- implemented once per ABI -----------------------------------------------------------------
// How many integer-class and floating-point arguments a planned call can carry.
RegisterBudget FutureCallBudget() noexcept;
// False when the signature cannot be planned here (koffi makes the call instead).
bool PlanFutureCall(const ArgClass* classes, size_t n, CallPlan* plan) noexcept;
// Calls `fn(args...) -> FfiFuture<T>` with the frame's registers. `out` must be zeroed first.
void CallFuture(void* fn, const CallFrame& frame, FfiFutureRaw* out) noexcept;

// How many integer-class and floating-point arguments a planned sync call can carry.
RegisterBudget SyncCallBudget() noexcept;
// False when the sync call cannot be planned here (koffi makes it instead).
bool PlanSyncCall(const ArgClass* classes, size_t n, CallPlan* plan) noexcept;
// Where a sync call's result comes back. Exported to JS by name (abi/facts.cc).
// kReturnString is RAX as a NUL-terminated UTF-8 pointer the addon turns into a JS string.
enum SyncReturn : uint8_t { kReturnWord = 0, kReturnF64 = 1, kReturnF32 = 2, kReturnString = 3, kSyncReturnCount };
// Calls `fn(args...)` with the frame's registers and returns the result register: the whole
// integer register (the caller keeps only the declared type's low bits, which are all the callee
// defines), the double, or the float.
uint64_t CallSyncWord(void* fn, const CallFrame& frame) noexcept;
double CallSyncF64(void* fn, const CallFrame& frame) noexcept;
float CallSyncF32(void* fn, const CallFrame& frame) noexcept;

// ---- shared (args.cc) --------------------------------------------------------------------------
// Converts already-validated JS arguments into the frame. False on a value of the wrong shape
// (nothing has been called then).
bool FillFrame(napi_env env, const CallPlan& plan, const napi_value* args, size_t argc, CallFrame* frame);
// A JS array of small integers each below `limit` (argument classes and the like, as the JS side
// sends them); false for anything else.
bool ReadSmallInts(napi_env env, napi_value v, uint32_t limit, std::vector<uint32_t>* out);
// The address a buffer argument passes (a TypedArray's or DataView's first byte, an ArrayBuffer's
// data, 0 for null); false for anything else.
bool BufferAddress(napi_env env, napi_value v, uint64_t* out);

}  // namespace rustplug
