// ABIs without trampolines of their own: JS callbacks that plugins keep (thread-safe or
// future-returning) are refused there with a clear error; koffi's callbacks still work for
// synchronous calls. A port is a file like trampolines_x86_64.cc, tested on that machine.
#if !(defined(__x86_64__) && !defined(_WIN32))

#include "trampoline.h"

namespace rustplug {

bool PlanCallback(Returns, const ArgClass*, size_t, CallPlan*) noexcept { return false; }
void* TrampolineAddress(Returns, size_t) noexcept { return nullptr; }

}  // namespace rustplug

#endif
