#include "js_future.h"

#include <cstdlib>
#include <cstring>
#include <new>
#include <type_traits>

namespace rustplug {

namespace {
char* Dup(const std::string& s) noexcept {
  char* p = static_cast<char*>(std::malloc(s.size() + 1));
  if (p != nullptr) std::memcpy(p, s.c_str(), s.size() + 1);
  return p;
}
}  // namespace

bool JsFuture::Supports(ResultKind kind) noexcept { return kind != kJs && kind < kResultKindCount; }

JsFuture* JsFuture::Create(ResultKind kind) noexcept { return new (std::nothrow) JsFuture(kind); }

JsFuture::~JsFuture() { std::free(text_); }

void JsFuture::Release() noexcept {
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
}

void JsFuture::Settle(bool ok, uint64_t word, double num, char* owned) noexcept {
  const FfiWakerBase* w = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (settled_) {
      std::free(owned);
      return;
    }
    settled_ = true;
    ok_ = ok;
    word_ = word;
    num_ = num;
    text_ = owned;
    w = waker_;
    waker_ = nullptr;
  }
  // Outside the lock: the plugin's wake may poll right away, on this thread or another.
  if (w != nullptr) w->vtable->wake(w);
}

void JsFuture::ResolveWord(uint64_t word) noexcept { Settle(true, word, 0, nullptr); }
void JsFuture::ResolveNumber(double v) noexcept { Settle(true, 0, v, nullptr); }
void JsFuture::ResolveString(const std::string& s) noexcept {
  char* p = Dup(s);
  if (p == nullptr) {
    Reject("out of memory copying the callback's string result");
    return;
  }
  Settle(true, reinterpret_cast<uintptr_t>(p), 0, p);
}
void JsFuture::Reject(const std::string& message) noexcept {
  char* p = Dup(message);
  Settle(false, 0, 0, p != nullptr ? p : Dup("rejected"));
}

const FfiWakerBase* JsFuture::Park(FfiContext* cx) noexcept {
  const FfiWakerBase* old = waker_;
  waker_ = cx->waker->vtable->clone(cx->waker);
  return old;
}

template <typename R, typename Ready>
FfiPoll<R> JsFuture::PollWith(void* self, FfiContext* cx, Ready ready) noexcept {
  auto* f = static_cast<JsFuture*>(self);
  FfiPoll<R> r{};
  const FfiWakerBase* old = nullptr;
  {
    std::lock_guard<std::mutex> lock(f->mu_);
    if (!f->settled_) {
      old = f->Park(cx);
      r.tag = kPollPending;
    } else {
      r.tag = kPollReady;
      r.value.tag = f->ok_ ? kJsOk : kJsErr;
      if (!f->ok_) r.value.v.err = f->text_;
      else ready(f, &r.value);
    }
  }
  if (old != nullptr) old->vtable->drop(old);
  return r;
}

template <typename T>
FfiPoll<JsResult<T>> JsFuture::PollAs(void* self, FfiContext* cx) noexcept {
  return PollWith<JsResult<T>>(self, cx, [](const JsFuture* f, JsResult<T>* v) {
    if constexpr (std::is_floating_point_v<T>) {
      v->v.ok = static_cast<T>(f->num_);
    } else if constexpr (std::is_pointer_v<T>) {
      v->v.ok = reinterpret_cast<T>(static_cast<uintptr_t>(f->word_));
    } else {
      v->v.ok = static_cast<T>(f->word_);
    }
  });
}

FfiPoll<JsResultUnit> JsFuture::PollUnit(void* self, FfiContext* cx) noexcept {
  return PollWith<JsResultUnit>(self, cx, [](const JsFuture*, JsResultUnit*) {});
}

void JsFuture::Drop(void* self) noexcept {
  auto* f = static_cast<JsFuture*>(self);
  const FfiWakerBase* w = nullptr;
  {
    std::lock_guard<std::mutex> lock(f->mu_);
    w = f->waker_;
    f->waker_ = nullptr;
  }
  if (w != nullptr) w->vtable->drop(w);
  f->Release();
}

FfiFutureRaw JsFuture::Raw() noexcept {
  void* poll = nullptr;
  switch (kind_) {
    case kVoid: poll = reinterpret_cast<void*>(&PollUnit); break;
    case kBool: poll = reinterpret_cast<void*>(&PollAs<uint8_t>); break;
    case kI8: poll = reinterpret_cast<void*>(&PollAs<int8_t>); break;
    case kU8: poll = reinterpret_cast<void*>(&PollAs<uint8_t>); break;
    case kI16: poll = reinterpret_cast<void*>(&PollAs<int16_t>); break;
    case kU16: poll = reinterpret_cast<void*>(&PollAs<uint16_t>); break;
    case kI32: poll = reinterpret_cast<void*>(&PollAs<int32_t>); break;
    case kU32: poll = reinterpret_cast<void*>(&PollAs<uint32_t>); break;
    case kI64: poll = reinterpret_cast<void*>(&PollAs<int64_t>); break;
    case kU64: poll = reinterpret_cast<void*>(&PollAs<uint64_t>); break;
    case kF32: poll = reinterpret_cast<void*>(&PollAs<float>); break;
    case kF64: poll = reinterpret_cast<void*>(&PollAs<double>); break;
    case kPointer: poll = reinterpret_cast<void*>(&PollAs<void*>); break;
    case kString: poll = reinterpret_cast<void*>(&PollAs<const char*>); break;
    default: break;
  }
  return FfiFutureRaw{this, poll, reinterpret_cast<void*>(&Drop)};
}

}  // namespace rustplug
