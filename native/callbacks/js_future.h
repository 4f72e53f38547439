// The FfiFuture a future-returning JS callback hands to the plugin: created on the plugin's
// thread when it calls the trampoline, settled on the JS thread when the JS Promise settles,
// polled and dropped on whatever threads the plugin's runtime uses. Two references: the plugin's
// (until drop_fn) and the JS side's (until the Promise settled or the call was abandoned).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

#include "../abi/async_ffi.h"

namespace rustplug {

class JsFuture {
 public:
  // Only the scalar kinds, pointers and strings; false for the others.
  static bool Supports(ResultKind kind) noexcept;
  static JsFuture* Create(ResultKind kind) noexcept;

  // The plugin's view; its drop_fn releases the plugin's reference.
  FfiFutureRaw Raw() noexcept;

  // Any thread, once (later calls are ignored): the JS side's outcome. A string result is copied.
  void ResolveWord(uint64_t word) noexcept;
  void ResolveNumber(double v) noexcept;
  void ResolveString(const std::string& s) noexcept;
  void Reject(const std::string& message) noexcept;
  // The JS side lets go (after settling it, or when the call could not be made).
  void ReleaseJs() noexcept { Release(); }

  ResultKind kind() const noexcept { return kind_; }

  template <typename T>
  static FfiPoll<JsResult<T>> PollAs(void* self, FfiContext* cx) noexcept;
  static FfiPoll<JsResultUnit> PollUnit(void* self, FfiContext* cx) noexcept;
  static void Drop(void* self) noexcept;

 private:
  explicit JsFuture(ResultKind kind) : kind_(kind) {}
  ~JsFuture();
  void Release() noexcept;
  void Settle(bool ok, uint64_t word, double num, char* owned) noexcept;
  // Under mu_: stores a fresh clone of the borrowed waker, returning the one it replaces.
  const FfiWakerBase* Park(FfiContext* cx) noexcept;
  // One poll for any result type: Pending (parking the waker) or Ready, with `ready(f, &value)`
  // filling the JsResult under mu_; the replaced waker is dropped after the lock.
  template <typename R, typename Ready>
  static FfiPoll<R> PollWith(void* self, FfiContext* cx, Ready ready) noexcept;

  std::mutex mu_;
  bool settled_ = false;
  bool ok_ = false;
  uint64_t word_ = 0;
  double num_ = 0;
  char* text_ = nullptr;  // the string result or the error message; freed with this object
  const FfiWakerBase* waker_ = nullptr;  // an owned clone, woken on settle or dropped
  std::atomic<int> refs_{2};
  ResultKind kind_;
};

}  // namespace rustplug
