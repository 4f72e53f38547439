// A dlopen handle as the addon owns it. close() from JS does not dlclose at once: the handle is
// closed when the last thing that may still run or free the library's code lets go of it (the
// JS library object, each pending future). Without RTLD_NODELETE, dlclose unmaps the code, and a
// pending future's drop_fn or a string's free function must never run after that.
#pragma once

#include <node_api.h>

#include <cstdint>
#include <vector>

namespace rustplug {

class Library {
 public:
  // JS thread only, like every method here: the counts are plain integers.
  explicit Library(void* handle) noexcept : handle_(handle) {}

  // Keeps the code mapped (a pending future, the open JS library).
  void RetainCode() noexcept { ++code_refs_; }
  void ReleaseCode() noexcept;
  // Keeps this object alive (the JS external, each symbol prepared from it).
  void Retain() noexcept { ++refs_; }
  void Release() noexcept;

  bool closed() const noexcept { return closed_; }
  // JS thread: futures and streams of this library the runtime holds right now.
  void TaskStarted() noexcept { ++tasks_; }
  // True when that was the last one (the hub then settles the idle waiters).
  bool TaskEnded() noexcept { return --tasks_ == 0; }
  uint32_t tasks() const noexcept { return tasks_; }
  // Promises waiting for the library to have no task (libraryIdle); taken by the hub.
  std::vector<napi_deferred>& idle_waiters() noexcept { return idle_waiters_; }
  // The user's close(): no new calls; the handle goes once nothing else holds the code.
  void MarkClosed() noexcept;

  // library(handle: bigint) -> External; libraryClose(lib) (the hub cancels its tasks first).
  static napi_value Wrap(napi_env env, napi_callback_info info);
  static Library* Unwrap(napi_env env, napi_value v);

 private:
  ~Library() = default;
  void* handle_;
  uint32_t code_refs_ = 1;  // the open JS library's
  uint32_t refs_ = 1;       // the JS external's
  bool closed_ = false;
  bool dlclosed_ = false;
  uint32_t tasks_ = 0;
  std::vector<napi_deferred> idle_waiters_;
};

}  // namespace rustplug
