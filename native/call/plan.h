// The per-ABI call planner for calls that return an FfiFuture: plan(argument classes) → a plan,
// or "unsupported" (the caller then goes through koffi), and call(plan, fn, args). One file per
// ABI implements PlanFutureCall and CallFuture (x86_64_sysv.cc; unsupported.cc elsewhere); the
// rest of the addon never asks which machine it runs on.
#pragma once

#include <node_api.h>

#include <cstddef>
#include <cstdint>

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

// ---- shared (args.cc) --------------------------------------------------------------------------
// Converts already-validated JS arguments into the frame. False on a value of the wrong shape
// (nothing has been called then).
bool FillFrame(napi_env env, const CallPlan& plan, const napi_value* args, size_t argc, CallFrame* frame);

}  // namespace rustplug
