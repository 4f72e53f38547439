// C function pointers that call back into JS: a fixed pool of native trampolines per way of
// returning (an integer register, a float register, an FfiFuture through the hidden result
// pointer). The plugin gets a trampoline's address; the trampoline finds its callback by slot.
// Trampolines are code, shared by the whole process; the callback a slot points to belongs to
// one environment (callbacks/registry.cc).
#pragma once

#include <cstddef>
#include <cstdint>

#include "../abi/async_ffi.h"
#include "../call/plan.h"

namespace rustplug {

enum class Returns : uint8_t { kInteger = 0, kFloat = 1, kFuture = 2 };
constexpr size_t kReturnsCount = 3;
// Live callbacks per kind of return; one more is refused with a clear error.
constexpr size_t kTrampolineSlots = 256;

// ---- implemented once per ABI (trampolines_x86_64.cc; trampolines_none.cc elsewhere) ----------
// How a callback's arguments arrive in the frame the trampoline hands over. False: unsupported.
bool PlanCallback(Returns returns, const ArgClass* classes, size_t n, CallPlan* plan) noexcept;
// The code address of trampoline `slot`; null where this ABI has none.
void* TrampolineAddress(Returns returns, size_t slot) noexcept;

// ---- what every trampoline calls (registry.cc) -------------------------------------------------
uint64_t DispatchInteger(size_t slot, const CallFrame& frame) noexcept;
double DispatchFloat(size_t slot, const CallFrame& frame) noexcept;
void DispatchFuture(size_t slot, const CallFrame& frame, FfiFutureRaw* out) noexcept;

}  // namespace rustplug
