// x86_64 System V: the ABI facts a planned future call relies on, in one place.
// - FfiFuture<T> is 24 bytes (MEMORY class): the callee writes it through a hidden pointer in RDI
//   and returns that pointer in RAX. We pass the pointer as an explicit first argument of a void
//   function instead of declaring an FfiFutureRaw return: the registers are the same, but the
//   caller then never reads the result through RAX, which a function that does not really
//   return an FfiFuture (declared as one by mistake) fills with anything. Our zeroed FfiFutureRaw
//   stays zero, and the mistake is reported instead of dereferencing garbage.
// - Integer-class arguments take the next free general register (RSI, RDX, RCX, R8, R9 after
//   the hidden pointer); float and double arguments the next XMM register (XMM0..XMM7). The two
//   sequences are independent, so an argument's register depends only on its position among
//   arguments of its own class.
// - A callee reads only the registers of its own parameters. Calling it as if it took five
//   words and eight doubles fills every argument register and puts nothing on the stack, so one
//   call shape fits any signature within that budget.
// - A sync call has no hidden pointer: six integer registers (RDI, RSI, RDX, RCX, R8, R9) and
//   eight XMM registers. Its integer result comes back in RAX, where only the declared type's
//   low bits are defined (the rest is whatever the callee left: the reader keeps the low bits);
//   a double in XMM0, a float in XMM0's low 32 bits. One function type per result register,
//   called as if it took every argument register, fits any signature within the budget.
// - Values narrower than a register arrive sign- or zero-extended from their declared type (JS
//   validated the range), as LLVM expects for i8/i16. An f32 sits in the low 32 bits of its XMM
//   register; the upper bits are ignored.
#if defined(__x86_64__) && !defined(_WIN32)

#include "plan.h"

namespace rustplug {

namespace {
constexpr size_t kIntegerRegs = 5;  // RDI carries the hidden result pointer
constexpr size_t kSyncIntegerRegs = 6;
constexpr size_t kFloatRegs = 8;
using W = uint64_t;
using D = double;
using CallAll = void (*)(FfiFutureRaw*, W, W, W, W, W, D, D, D, D, D, D, D, D);
template <typename R>
using CallSync = R (*)(W, W, W, W, W, W, D, D, D, D, D, D, D, D);
static_assert(kSyncIntegerRegs <= kFrameWords && kFloatRegs <= kFrameFloats, "frame holds every register");

bool Plan(const ArgClass* classes, size_t n, size_t integer_regs, CallPlan* plan) noexcept {
  if (n > kMaxPlannedArgs) return false;
  uint8_t ints = 0, floats = 0;
  for (size_t i = 0; i < n; ++i) {
    const ArgClass c = classes[i];
    if (c == kArgInteger) {
      if (ints == integer_regs) return false;
      plan->slot[i] = ints++;
    } else if (c == kArgF64 || c == kArgF32) {
      if (floats == kFloatRegs) return false;
      plan->slot[i] = floats++;
    } else {
      return false;
    }
    plan->cls[i] = c;
  }
  plan->argc = static_cast<uint8_t>(n);
  return true;
}

template <typename R>
R Sync(void* fn, const CallFrame& f) noexcept {
  const W* w = f.words;
  const D* x = f.floats;
  return reinterpret_cast<CallSync<R>>(fn)(w[0], w[1], w[2], w[3], w[4], w[5], x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]);
}

}  // namespace

RegisterBudget FutureCallBudget() noexcept { return {kIntegerRegs, kFloatRegs}; }
RegisterBudget SyncCallBudget() noexcept { return {kSyncIntegerRegs, kFloatRegs}; }

bool PlanFutureCall(const ArgClass* classes, size_t n, CallPlan* plan) noexcept { return Plan(classes, n, kIntegerRegs, plan); }
bool PlanSyncCall(const ArgClass* classes, size_t n, CallPlan* plan) noexcept { return Plan(classes, n, kSyncIntegerRegs, plan); }

uint64_t CallSyncWord(void* fn, const CallFrame& f) noexcept { return Sync<W>(fn, f); }
double CallSyncF64(void* fn, const CallFrame& f) noexcept { return Sync<D>(fn, f); }
float CallSyncF32(void* fn, const CallFrame& f) noexcept { return Sync<float>(fn, f); }

void CallFuture(void* fn, const CallFrame& f, FfiFutureRaw* out) noexcept {
  const W* w = f.words;
  const double* x = f.floats;
  reinterpret_cast<CallAll>(fn)(out, w[0], w[1], w[2], w[3], w[4], x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]);
}

}  // namespace rustplug

#endif
