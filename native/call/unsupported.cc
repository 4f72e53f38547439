// Every ABI without a planner of its own: no planned calls, so every future-returning call and
// every sync call goes through koffi, which knows the platform's conventions. A planner for aarch64 (AAPCS64: the
// 24-byte result goes through X8, so X0–X7 and V0–V7 all stay free) or riscv64 (LP64D: the
// hidden pointer takes A0, floats spill into integer registers once FA0–FA7 are used, an f32 is
// NaN-boxed) is a file like x86_64_sysv.cc, tested on that machine.
#if !(defined(__x86_64__) && !defined(_WIN32))

#include "plan.h"

namespace rustplug {

RegisterBudget FutureCallBudget() noexcept { return {0, 0}; }
bool PlanFutureCall(const ArgClass*, size_t, CallPlan*) noexcept { return false; }
void CallFuture(void*, const CallFrame&, FfiFutureRaw*) noexcept {}
RegisterBudget SyncCallBudget() noexcept { return {0, 0}; }
bool PlanSyncCall(const ArgClass*, size_t, CallPlan*) noexcept { return false; }
uint64_t CallSyncWord(void*, const CallFrame&) noexcept { return 0; }
double CallSyncF64(void*, const CallFrame&) noexcept { return 0; }
float CallSyncF32(void*, const CallFrame&) noexcept { return 0; }

}  // namespace rustplug

#endif
