// The state word of a task, and every transition of it. Wakers on any thread and the JS thread
// move it only through the read-modify-write functions below (never load-then-store), so a wake
// that races a poll is never lost: either the waker sees the task running and leaves NOTIFIED for
// the poller to act on, or the poller's own RMW reads the waker's write and polls again. An RMW
// also carries the happens-before edge from what the plugin published before waking to the poll
// that follows (acq_rel on both sides).
#pragma once

#include <atomic>
#include <cstdint>

namespace rustplug {
namespace task_state {

constexpr uint32_t kScheduled = 1u << 0;  // in a ready queue, or about to be pushed by its setter
constexpr uint32_t kRunning = 1u << 1;    // poll_fn (or the first call) is on the JS thread's stack
constexpr uint32_t kNotified = 1u << 2;   // woken while running: poll exactly once more
constexpr uint32_t kComplete = 1u << 3;   // settled: never polled or queued again
constexpr uint32_t kCancelled = 1u << 4;  // cancel requested; the future is dropped once not running

constexpr uint32_t kDead = kComplete | kCancelled;

// A new task is running: its first poll happens inside the call that created it.
constexpr uint32_t kInitial = kRunning;

// Any thread. True when the caller must push the task onto the ready queue.
inline bool Wake(std::atomic<uint32_t>& s) noexcept {
  uint32_t cur = s.load(std::memory_order_relaxed);
  for (;;) {
    uint32_t next;
    bool push = false;
    if (cur & kDead) {
      return false;  // nobody will poll it again: a late wake
    } else if (cur & kRunning) {
      // Already notified or not, the RMW is what orders this waker's data before the next poll.
      next = cur | kNotified;
    } else if (cur & kScheduled) {
      next = cur;  // still queued: the queued poll will see this wake's data (acq_rel below)
    } else {
      next = cur | kScheduled;
      push = true;
    }
    if (s.compare_exchange_weak(cur, next, std::memory_order_acq_rel, std::memory_order_relaxed)) return push;
  }
}

enum class Take { kPoll, kSkip };

// JS thread, on taking a task off the ready queue: SCHEDULED → RUNNING, or skip a dead task.
inline Take TakeForPoll(std::atomic<uint32_t>& s) noexcept {
  uint32_t cur = s.load(std::memory_order_relaxed);
  for (;;) {
    const uint32_t base = cur & ~kScheduled;
    const bool dead = (cur & kDead) != 0;
    const uint32_t next = dead ? base : base | kRunning;
    if (s.compare_exchange_weak(cur, next, std::memory_order_acq_rel, std::memory_order_relaxed)) {
      return dead ? Take::kSkip : Take::kPoll;
    }
  }
}

// JS thread, a stream's next(): poll now, queued or not (a poll without a wake is allowed).
// SCHEDULED is left alone: a queued entry stays in its list and its own turn finds the task idle
// or running again. False for a dead task.
inline bool Demand(std::atomic<uint32_t>& s) noexcept {
  uint32_t cur = s.load(std::memory_order_relaxed);
  for (;;) {
    if (cur & (kDead | kRunning)) return false;
    if (s.compare_exchange_weak(cur, cur | kRunning, std::memory_order_acq_rel, std::memory_order_relaxed)) return true;
  }
}

// A stream is created idle: nothing polls it until the first next().
inline void Park(std::atomic<uint32_t>& s) noexcept { s.fetch_and(~kRunning, std::memory_order_acq_rel); }

enum class AfterPending { kIdle, kReschedule, kCancel };

// JS thread, after a poll returned Pending (or a stream's poll returned an item): RUNNING →
// idle; a wake during the poll turns into a reschedule (the caller pushes the task) unless the
// task is still queued from before (a stream polled on demand), a cancel during the poll into
// the drop it deferred.
inline AfterPending FinishPending(std::atomic<uint32_t>& s) noexcept {
  uint32_t cur = s.load(std::memory_order_relaxed);
  for (;;) {
    uint32_t next = cur & ~(kRunning | kNotified);
    AfterPending r = AfterPending::kIdle;
    if (cur & kCancelled) {
      next |= kComplete;
      r = AfterPending::kCancel;
    } else if ((cur & kNotified) && !(cur & kScheduled)) {
      next |= kScheduled;
      r = AfterPending::kReschedule;
    }
    if (s.compare_exchange_weak(cur, next, std::memory_order_acq_rel, std::memory_order_relaxed)) return r;
  }
}

// JS thread, after a poll returned Ready or Panicked (or failed). True when a cancel arrived
// during that poll: the cancel wins, the caller rejects with the cancel's reason.
inline bool FinishDone(std::atomic<uint32_t>& s) noexcept {
  const uint32_t prev = s.fetch_or(kComplete, std::memory_order_acq_rel);
  s.fetch_and(~(kRunning | kNotified), std::memory_order_relaxed);
  return (prev & kCancelled) != 0;
}

enum class CancelNow { kDrop, kDeferred, kAlreadyDone };

// JS thread (an abort listener, close(), a callback inside a poll). While the task runs the drop
// is deferred to whoever is polling it; otherwise the caller drops it now.
inline CancelNow Cancel(std::atomic<uint32_t>& s) noexcept {
  uint32_t cur = s.load(std::memory_order_relaxed);
  for (;;) {
    if (cur & kDead) return CancelNow::kAlreadyDone;
    const bool running = (cur & kRunning) != 0;
    const uint32_t next = running ? cur | kCancelled : cur | kCancelled | kComplete;
    if (s.compare_exchange_weak(cur, next, std::memory_order_acq_rel, std::memory_order_relaxed)) {
      return running ? CancelNow::kDeferred : CancelNow::kDrop;
    }
  }
}

// JS thread, at environment teardown: whatever the task was doing, it is over.
inline void Kill(std::atomic<uint32_t>& s) noexcept { s.fetch_or(kComplete, std::memory_order_acq_rel); }

}  // namespace task_state
}  // namespace rustplug
