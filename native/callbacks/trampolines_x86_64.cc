// x86_64 System V trampolines. A trampoline is declared with every argument register (six
// integer, eight XMM; five integer for the FfiFuture kind, whose hidden result pointer takes
// RDI), so whatever signature the plugin calls it with, each argument lands in the frame at its
// position among arguments of its class: the planner's rule in reverse (call/x86_64_sysv.cc).
// Registers the caller did not set hold garbage that nobody reads. The return type picks the
// register the caller reads: RAX, XMM0, or the 24-byte FfiFuture written through RDI.
#if defined(__x86_64__) && !defined(_WIN32)

#include <utility>

#include "trampoline.h"

namespace rustplug {

namespace {

using W = uint64_t;

template <size_t I>
uint64_t IntegerTrampoline(W a, W b, W c, W d, W e, W f, double x0, double x1, double x2, double x3, double x4,
                           double x5, double x6, double x7) {
  CallFrame fr;
  fr.words[0] = a, fr.words[1] = b, fr.words[2] = c, fr.words[3] = d, fr.words[4] = e, fr.words[5] = f;
  fr.floats[0] = x0, fr.floats[1] = x1, fr.floats[2] = x2, fr.floats[3] = x3;
  fr.floats[4] = x4, fr.floats[5] = x5, fr.floats[6] = x6, fr.floats[7] = x7;
  return DispatchInteger(I, fr);
}

template <size_t I>
double FloatTrampoline(W a, W b, W c, W d, W e, W f, double x0, double x1, double x2, double x3, double x4, double x5,
                       double x6, double x7) {
  CallFrame fr;
  fr.words[0] = a, fr.words[1] = b, fr.words[2] = c, fr.words[3] = d, fr.words[4] = e, fr.words[5] = f;
  fr.floats[0] = x0, fr.floats[1] = x1, fr.floats[2] = x2, fr.floats[3] = x3;
  fr.floats[4] = x4, fr.floats[5] = x5, fr.floats[6] = x6, fr.floats[7] = x7;
  return DispatchFloat(I, fr);
}

template <size_t I>
FfiFutureRaw FutureTrampoline(W a, W b, W c, W d, W e, double x0, double x1, double x2, double x3, double x4,
                              double x5, double x6, double x7) {
  CallFrame fr;
  fr.words[0] = a, fr.words[1] = b, fr.words[2] = c, fr.words[3] = d, fr.words[4] = e;
  fr.floats[0] = x0, fr.floats[1] = x1, fr.floats[2] = x2, fr.floats[3] = x3;
  fr.floats[4] = x4, fr.floats[5] = x5, fr.floats[6] = x6, fr.floats[7] = x7;
  FfiFutureRaw out{};
  DispatchFuture(I, fr, &out);
  return out;
}

template <size_t... I>
void* const* Table(Returns r, std::index_sequence<I...>) {
  static void* const integer[] = {reinterpret_cast<void*>(&IntegerTrampoline<I>)...};
  static void* const floating[] = {reinterpret_cast<void*>(&FloatTrampoline<I>)...};
  static void* const future[] = {reinterpret_cast<void*>(&FutureTrampoline<I>)...};
  return r == Returns::kInteger ? integer : r == Returns::kFloat ? floating : future;
}

}  // namespace

bool PlanCallback(Returns returns, const ArgClass* classes, size_t n, CallPlan* plan) noexcept {
  const size_t int_regs = returns == Returns::kFuture ? 5 : 6;
  if (n > kMaxPlannedArgs) return false;
  uint8_t ints = 0, floats = 0;
  for (size_t i = 0; i < n; ++i) {
    if (classes[i] == kArgInteger) {
      if (ints == int_regs) return false;
      plan->slot[i] = ints++;
    } else if (classes[i] == kArgF64 || classes[i] == kArgF32) {
      if (floats == 8) return false;
      plan->slot[i] = floats++;
    } else {
      return false;
    }
    plan->cls[i] = classes[i];
  }
  plan->argc = static_cast<uint8_t>(n);
  return true;
}

void* TrampolineAddress(Returns returns, size_t slot) noexcept {
  if (slot >= kTrampolineSlots) return nullptr;
  return Table(returns, std::make_index_sequence<kTrampolineSlots>{})[slot];
}

}  // namespace rustplug

#endif
