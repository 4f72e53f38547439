// A JS callback that a plugin calls from another thread during a synchronous call deadlocks: koffi
// forwards the call to the JS thread and waits, while the JS thread waits in the plugin for that
// thread (koffi 3.3.4 RelayCallback → RelayAsync: napi_call_threadsafe_function, then a condition
// variable; nothing times out). Until callbacks can be thread-safe, the wrapper hands the plugin a
// guard thunk instead of koffi's trampoline. The thunk checks the calling thread: the JS thread
// that made the call goes on to koffi (a tail jump, with every argument register and the stack as
// the plugin left them, so any signature works); any other thread gets a zero result at once and
// is counted, and the wrapper throws once the call returns.
//
// The thunks are code, so there is a fixed pool of them, shared by every environment in the
// process (slots carry their owner thread; a worker's calls use their own slots).
// x86_64 SysV only: elsewhere the pool is empty and callbacks go to koffi directly.
#include "callback_guard.h"

#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <cstring>

namespace rustplug {
namespace {

constexpr uint32_t kSlots = 1024;
// Thunk stride: each thunk is endbr64; movl $i, %r11d; jmp common (at most 15 bytes), 16-aligned.
constexpr uintptr_t kThunkSize = 16;

struct Slot {
  std::atomic<bool> used{false};
  // The JS thread that may call through (pthread_self()), 0 while the slot is free.
  std::atomic<uintptr_t> owner{0};
  // koffi's registered trampoline for the JS function.
  std::atomic<uintptr_t> target{0};
  // Bytes of a struct result returned through the hidden pointer (> 16 bytes on SysV), else 0.
  std::atomic<uint32_t> memory_result{0};
  std::atomic<uint32_t> refused{0};
};

Slot slots[kSlots];
std::atomic<uint32_t> cursor{0};

}  // namespace
}  // namespace rustplug

#if defined(__x86_64__) && defined(__linux__)

// Saved registers, as the thunk's common part lays them out on its stack: rdi rsi rdx rcx r8 r9
// rax, padding, then xmm0..xmm7 (16 bytes each) from offset 64.
extern "C" __attribute__((visibility("hidden"))) uintptr_t rustplug_guard_enter(uint32_t index, uint64_t* regs) noexcept {
  using namespace rustplug;
  Slot& s = slots[index];
  const uintptr_t owner = s.owner.load(std::memory_order_acquire);
  if (owner != 0 && owner == static_cast<uintptr_t>(pthread_self())) {
    const uintptr_t target = s.target.load(std::memory_order_relaxed);
    if (target != 0) return target;
  }
  // Another thread, or a call after the JS call returned: refuse without touching JS.
  s.refused.fetch_add(1, std::memory_order_relaxed);
  regs[6] = 0;                      // rax
  regs[2] = 0;                      // rdx
  std::memset(&regs[8], 0, 32);     // xmm0, xmm1
  const uint32_t memory = owner != 0 ? s.memory_result.load(std::memory_order_relaxed) : 0;
  if (memory != 0 && regs[0] != 0) {
    // A struct returned in memory: zero it, and return its address in rax as the ABI wants.
    std::memset(reinterpret_cast<void*>(regs[0]), 0, memory);
    regs[6] = regs[0];
  }
  return 0;
}

extern "C" __attribute__((visibility("hidden"))) char rustplug_guard_thunks[];

asm(R"(
    .text
    .p2align 4
    .type rustplug_guard_common, @function
rustplug_guard_common:
    .cfi_startproc
    .cfi_def_cfa rsp, 8
    pushq %rbp
    .cfi_def_cfa rsp, 16
    .cfi_offset rbp, -16
    movq %rsp, %rbp
    .cfi_def_cfa_register rbp
    subq $192, %rsp
    movq %rdi, 0(%rsp)
    movq %rsi, 8(%rsp)
    movq %rdx, 16(%rsp)
    movq %rcx, 24(%rsp)
    movq %r8, 32(%rsp)
    movq %r9, 40(%rsp)
    movq %rax, 48(%rsp)
    movdqu %xmm0, 64(%rsp)
    movdqu %xmm1, 80(%rsp)
    movdqu %xmm2, 96(%rsp)
    movdqu %xmm3, 112(%rsp)
    movdqu %xmm4, 128(%rsp)
    movdqu %xmm5, 144(%rsp)
    movdqu %xmm6, 160(%rsp)
    movdqu %xmm7, 176(%rsp)
    movl %r11d, %edi
    movq %rsp, %rsi
    call rustplug_guard_enter
    testq %rax, %rax
    jz 1f
    movq %rax, %r11
    movq 0(%rsp), %rdi
    movq 8(%rsp), %rsi
    movq 16(%rsp), %rdx
    movq 24(%rsp), %rcx
    movq 32(%rsp), %r8
    movq 40(%rsp), %r9
    movq 48(%rsp), %rax
    movdqu 64(%rsp), %xmm0
    movdqu 80(%rsp), %xmm1
    movdqu 96(%rsp), %xmm2
    movdqu 112(%rsp), %xmm3
    movdqu 128(%rsp), %xmm4
    movdqu 144(%rsp), %xmm5
    movdqu 160(%rsp), %xmm6
    movdqu 176(%rsp), %xmm7
    leave
    .cfi_def_cfa rsp, 8
    jmp *%r11
1:
    .cfi_def_cfa rbp, 16
    movq 48(%rsp), %rax
    movq 16(%rsp), %rdx
    movdqu 64(%rsp), %xmm0
    movdqu 80(%rsp), %xmm1
    leave
    .cfi_def_cfa rsp, 8
    ret
    .cfi_endproc
    .size rustplug_guard_common, .-rustplug_guard_common

    .p2align 4
    .globl rustplug_guard_thunks
    .hidden rustplug_guard_thunks
    .type rustplug_guard_thunks, @function
rustplug_guard_thunks:
    .set rustplug_guard_i, 0
    .rept 1024
    .p2align 4
    endbr64
    movl $rustplug_guard_i, %r11d
    jmp rustplug_guard_common
    .set rustplug_guard_i, rustplug_guard_i + 1
    .endr
    .size rustplug_guard_thunks, .-rustplug_guard_thunks
)");

#define RUSTPLUG_CALLBACK_GUARD 1
#endif

namespace rustplug {
namespace {
#ifdef RUSTPLUG_CALLBACK_GUARD
constexpr bool kAvailable = true;
static_assert(kSlots == 1024, "the .rept count in the thunk table above");
uintptr_t ThunkAddress(uint32_t index) { return reinterpret_cast<uintptr_t>(rustplug_guard_thunks) + index * kThunkSize; }
#else
constexpr bool kAvailable = false;
uintptr_t ThunkAddress(uint32_t) { return 0; }
#endif

bool BigIntArg(napi_env env, napi_value v, uint64_t* out) {
  bool lossless = false;
  return napi_get_value_bigint_uint64(env, v, out, &lossless) == napi_ok && lossless;
}

// acquire(target: bigint, memoryResult: number) → the thunk's address (bigint), or null when every
// slot is in use. The calling thread becomes the slot's owner.
napi_value Acquire(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_value result;
  napi_get_null(env, &result);
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 2) return result;
  uint64_t target = 0;
  uint32_t memory = 0;
  if (!kAvailable || !BigIntArg(env, argv[0], &target) || target == 0 || napi_get_value_uint32(env, argv[1], &memory) != napi_ok) return result;
  const uint32_t start = cursor.fetch_add(1, std::memory_order_relaxed);
  for (uint32_t n = 0; n < kSlots; ++n) {
    // Round robin: a slot released just now is the last to be reused (a late call from a plugin
    // that kept the pointer is then more likely to find it free and be refused).
    const uint32_t i = (start + n) % kSlots;
    bool expected = false;
    if (!slots[i].used.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) continue;
    Slot& s = slots[i];
    s.refused.store(0, std::memory_order_relaxed);
    s.memory_result.store(memory, std::memory_order_relaxed);
    s.target.store(target, std::memory_order_relaxed);
    s.owner.store(static_cast<uintptr_t>(pthread_self()), std::memory_order_release);
    napi_create_bigint_uint64(env, ThunkAddress(i), &result);
    return result;
  }
  return result;
}

// release(thunk: bigint) → how many calls through it were refused (from other threads).
napi_value Release(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_value result;
  uint32_t refused = 0;
  uint64_t thunk = 0;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) == napi_ok && argc >= 1 && BigIntArg(env, argv[0], &thunk) && kAvailable) {
    const uintptr_t base = ThunkAddress(0);
    if (thunk >= base && thunk < base + kSlots * kThunkSize && (thunk - base) % kThunkSize == 0) {
      Slot& s = slots[(thunk - base) / kThunkSize];
      s.owner.store(0, std::memory_order_release);
      s.target.store(0, std::memory_order_relaxed);
      refused = s.refused.load(std::memory_order_relaxed);
      s.used.store(false, std::memory_order_release);
    }
  }
  napi_create_uint32(env, refused, &result);
  return result;
}

}  // namespace

void RegisterCallbackGuard(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"callbackGuardAcquire", nullptr, Acquire, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"callbackGuardRelease", nullptr, Release, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  napi_value slots_value;
  napi_create_uint32(env, kAvailable ? kSlots : 0, &slots_value);
  napi_set_named_property(env, exports, "callbackGuardSlots", slots_value);
}

}  // namespace rustplug
