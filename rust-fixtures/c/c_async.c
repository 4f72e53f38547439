/*
 * libc_async.so: async-ffi's FfiFuture ABI (0.5, ABI_VERSION 2) in plain C, the way async-ffi's
 * own C link test does it: the first poll clones the waker and starts a pthread that sleeps,
 * stores the result with an atomic store and then calls `wake` on the clone.
 *
 *   FfiFuture c_sleep_u64(uint32_t ms, uint64_t value);   ready with `value` after `ms`
 *   FfiFuture c_ready_u64(uint64_t value);                ready at the first poll
 *   FfiFuture c_bad_tag(uint32_t tag, uint32_t pending);  reports `tag` after `pending` Pending polls
 *   int64_t   c_futures_alive(void);                      futures whose drop_fn has not run
 *   int64_t   c_threads_alive(void);                      sleeper threads not finished yet
 *
 * The sleeper thread is detached and shares its state with the future through a reference count
 * (future + thread), so drop_fn never blocks the host while a sleep is in progress, and a wake that
 * arrives after the future was dropped touches only memory the thread still owns.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#define EXPORT __attribute__((visibility("default")))

typedef struct FfiWakerBase FfiWakerBase;

typedef struct FfiWakerVTable {
    const FfiWakerBase *(*clone)(const FfiWakerBase *);
    void (*wake)(const FfiWakerBase *);
    void (*wake_by_ref)(const FfiWakerBase *);
    void (*drop)(const FfiWakerBase *);
} FfiWakerVTable;

struct FfiWakerBase {
    const FfiWakerVTable *vtable;
};

typedef struct FfiContext {
    const FfiWakerBase *waker; /* borrowed for one poll call */
} FfiContext;

enum { POLL_READY = 0, POLL_PENDING = 1, POLL_PANICKED = 2 };

/* FfiPoll<u64>: repr(C, u8) enum = a u8 tag, the value at offset 8. 16 bytes, RAX:RDX. */
typedef struct FfiPollU64 {
    uint8_t tag;
    uint64_t value;
} FfiPollU64;

/* FfiFuture<u64>: 24 bytes, returned through a hidden result pointer. */
typedef struct FfiFuture {
    void *fut_ptr;
    FfiPollU64 (*poll_fn)(void *fut_ptr, FfiContext *cx);
    void (*drop_fn)(void *fut_ptr);
} FfiFuture;

_Static_assert(sizeof(FfiPollU64) == 16, "FfiPoll<u64> is 16 bytes");
_Static_assert(sizeof(FfiFuture) == 24, "FfiFuture is 24 bytes");
_Static_assert(sizeof(FfiWakerVTable) == 32, "vtable: clone, wake, wake_by_ref, drop");

static atomic_llong futures_alive;
static atomic_llong threads_alive;

EXPORT int64_t c_futures_alive(void) { return atomic_load(&futures_alive); }
EXPORT int64_t c_threads_alive(void) { return atomic_load(&threads_alive); }

/* ---- c_sleep_u64 ---------------------------------------------------------------------------- */

typedef struct SleepState {
    atomic_int refs;         /* 1 (the future) + 1 while the sleeper thread runs */
    atomic_bool done;        /* set (release) by the thread after storing `result` */
    _Atomic uint64_t result; /* stored by the thread */
    uint32_t ms;
    uint64_t value;
    int started;                 /* the future side only (poll/drop run on one thread at a time) */
    const FfiWakerBase *waker;   /* owned clone, consumed by the thread's `wake` */
} SleepState;

static void sleep_state_release(SleepState *st) {
    if (atomic_fetch_sub_explicit(&st->refs, 1, memory_order_acq_rel) == 1) free(st);
}

static void sleep_ms(uint32_t ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

static void *sleeper(void *arg) {
    SleepState *st = arg;
    const FfiWakerBase *waker = st->waker;
    sleep_ms(st->ms);
    atomic_store_explicit(&st->result, st->value, memory_order_relaxed);
    atomic_store_explicit(&st->done, 1, memory_order_release);
    waker->vtable->wake(waker); /* consumes the owned clone */
    sleep_state_release(st);
    atomic_fetch_sub(&threads_alive, 1);
    return NULL;
}

static FfiPollU64 sleep_poll(void *fut_ptr, FfiContext *cx) {
    SleepState *st = fut_ptr;
    FfiPollU64 r = {.tag = POLL_PENDING, .value = 0};
    if (!st->started) {
        st->started = 1;
        st->waker = cx->waker->vtable->clone(cx->waker);
        atomic_fetch_add(&st->refs, 1);
        atomic_fetch_add(&threads_alive, 1);
        pthread_attr_t attr;
        pthread_t thread;
        int err = pthread_attr_init(&attr);
        if (!err) {
            pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
            err = pthread_create(&thread, &attr, sleeper, st);
            pthread_attr_destroy(&attr);
        }
        if (err) {
            /* No thread: undo, release the clone, report failure as Panicked. */
            atomic_fetch_sub(&threads_alive, 1);
            atomic_fetch_sub(&st->refs, 1);
            st->waker->vtable->drop(st->waker);
            st->waker = NULL;
            r.tag = POLL_PANICKED;
        }
        return r; /* Pending: the thread will wake us */
    }
    if (atomic_load_explicit(&st->done, memory_order_acquire)) {
        r.tag = POLL_READY;
        r.value = atomic_load_explicit(&st->result, memory_order_relaxed);
    }
    return r;
}

static void sleep_drop(void *fut_ptr) {
    atomic_fetch_sub(&futures_alive, 1);
    sleep_state_release(fut_ptr);
}

EXPORT FfiFuture c_sleep_u64(uint32_t ms, uint64_t value) {
    SleepState *st = calloc(1, sizeof *st);
    if (!st) abort();
    atomic_init(&st->refs, 1);
    atomic_init(&st->done, 0);
    atomic_init(&st->result, 0);
    st->ms = ms;
    st->value = value;
    atomic_fetch_add(&futures_alive, 1);
    return (FfiFuture){.fut_ptr = st, .poll_fn = sleep_poll, .drop_fn = sleep_drop};
}

/* ---- c_ready_u64 ---------------------------------------------------------------------------- */

static FfiPollU64 ready_poll(void *fut_ptr, FfiContext *cx) {
    (void)cx;
    return (FfiPollU64){.tag = POLL_READY, .value = *(uint64_t *)fut_ptr};
}

static void ready_drop(void *fut_ptr) {
    atomic_fetch_sub(&futures_alive, 1);
    free(fut_ptr);
}

EXPORT FfiFuture c_ready_u64(uint64_t value) {
    uint64_t *v = malloc(sizeof *v);
    if (!v) abort();
    *v = value;
    atomic_fetch_add(&futures_alive, 1);
    return (FfiFuture){.fut_ptr = v, .poll_fn = ready_poll, .drop_fn = ready_drop};
}

/* ---- c_bad_tag -------------------------------------------------------------------------------
 * A future whose poll reports `tag` (after `pending_polls` Pending results, woken inline), to
 * check how the host treats a tag that is none of Ready/Pending/Panicked (an ABI mismatch). */

typedef struct BadTag {
    uint32_t tag;
    uint32_t pending_polls;
} BadTag;

static FfiPollU64 bad_tag_poll(void *fut_ptr, FfiContext *cx) {
    BadTag *b = fut_ptr;
    if (b->pending_polls > 0) {
        b->pending_polls--;
        cx->waker->vtable->wake_by_ref(cx->waker);
        return (FfiPollU64){.tag = POLL_PENDING};
    }
    return (FfiPollU64){.tag = (uint8_t)b->tag, .value = 0};
}

static void bad_tag_drop(void *fut_ptr) {
    atomic_fetch_sub(&futures_alive, 1);
    free(fut_ptr);
}

EXPORT FfiFuture c_bad_tag(uint32_t tag, uint32_t pending_polls) {
    BadTag *b = malloc(sizeof *b);
    if (!b) abort();
    b->tag = tag;
    b->pending_polls = pending_polls;
    atomic_fetch_add(&futures_alive, 1);
    return (FfiFuture){.fut_ptr = b, .poll_fn = bad_tag_poll, .drop_fn = bad_tag_drop};
}
