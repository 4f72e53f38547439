// Store-buffering litmus test of the task state word (native/runtime/state.h) against the
// protocol it replaced. Two threads per trial:
//   poller: takes the queued task (SCHEDULED → RUNNING), reads the plugin's data (the poll), and
//           finishes the poll (RUNNING → idle, or a reschedule when NOTIFIED);
//   waker:  publishes data (a relaxed store, as plugin code may), then wakes.
// A wake is lost when the poll read the old data, the waker did not push the task, and the
// poller did not reschedule it: nobody would ever poll the new data.
//
// The old protocol cleared a `queued` flag with a release store and then polled, while the waker
// did `queued.exchange(true)`: the store and the poll's load may be reordered (store buffering),
// so both sides can miss each other. Its count is printed as a check that the harness can see
// the race on this machine; the test asserts on the new protocol only.
//
//   state_litmus <trials>   → prints "new <lost> old <lost>"
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "runtime/state.h"

using namespace rustplug;

namespace {

std::atomic<uint32_t> state;
std::atomic<bool> queued;
std::atomic<int> data;
std::atomic<int> arrived{0};

struct Outcome {
  int seen;
  bool rescheduled;
  bool pushed;
};

// Both threads start each trial together, as closely as a spin barrier allows; on a busy
// machine (the test suite runs files in parallel) a waiter yields instead of spinning on.
void Barrier(int trial) {
  arrived.fetch_add(1);
  for (int spins = 0; arrived.load() < 2 * (trial + 1); ++spins) {
    if (spins > 256) std::this_thread::yield();
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int trials = argc > 1 ? std::atoi(argv[1]) : 1000000;
  long lost_new = 0, lost_old = 0;
  for (int mode = 0; mode < 2; ++mode) {
    arrived.store(0);
    Outcome poller{}, waker{};
    long lost = 0;
    std::thread t([&] {
      for (int i = 0; i < trials; ++i) {
        Barrier(2 * i);
        data.store(1, std::memory_order_relaxed);
        if (mode == 0) {
          waker.pushed = task_state::Wake(state);
        } else {
          waker.pushed = !queued.exchange(true, std::memory_order_acq_rel);
        }
        Barrier(2 * i + 1);
      }
    });
    for (int i = 0; i < trials; ++i) {
      data.store(0, std::memory_order_relaxed);
      state.store(task_state::kScheduled, std::memory_order_relaxed);
      queued.store(true, std::memory_order_relaxed);
      Barrier(2 * i);
      if (mode == 0) {
        task_state::TakeForPoll(state);
        poller.seen = data.load(std::memory_order_relaxed);
        poller.rescheduled = task_state::FinishPending(state) == task_state::AfterPending::kReschedule;
      } else {
        queued.store(false, std::memory_order_release);
        poller.seen = data.load(std::memory_order_relaxed);
        poller.rescheduled = false;
      }
      Barrier(2 * i + 1);
      if (poller.seen == 0 && !waker.pushed && !poller.rescheduled) ++lost;
    }
    t.join();
    (mode == 0 ? lost_new : lost_old) = lost;
  }
  std::printf("new %ld old %ld\n", lost_new, lost_old);
  return 0;
}
