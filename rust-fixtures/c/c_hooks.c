/*
 * libc_hooks.so: futures that call back into the host while they are being polled or dropped,
 * for re-entrancy tests (JS inside a poll or a drop_fn that aborts, closes or calls again), and
 * a waker abuser for the reference-count tests. Same ABI as c_async.c (async-ffi 0.5).
 *
 *   typedef void (*Hook)(uint32_t event, uint32_t n);   event 1: poll number n starts,
 *                                                       event 2: poll n returned (not Ready),
 *                                                       event 3: drop after n polls
 *   FfiFuture<u32>   c_hook_u32(Hook, uint32_t pending)      Pending (woken by ref) until poll
 *                                                             pending+1, then Ready(n)
 *   FfiFuture<Point> c_hook_point(Hook, uint32_t pending)    the same, Ready({n, 2n})
 *   FfiFuture<char*> c_hook_string(Hook, uint32_t pending)   the same, Ready("hook <n>"), free
 *                                                             with c_hook_free
 *   FfiFuture<u32>   c_hook_wait(Hook)                       Pending forever, never woken
 *   int64_t c_hook_futures_alive(void), c_hook_strings_alive(void)
 *   void    c_hook_free(char *)
 *
 *   FfiFuture<u32>   c_clone_leak(uint64_t n)   poll 1 clones the waker n times and keeps every
 *                                               clone (as mem::forget would), wakes by ref;
 *                                               poll 2: Ready(1)
 *   void    c_clone_drop_all(void)              drops every kept clone but one
 *   void    c_clone_wake_last(void)             wakes (consumes) the last kept clone
 *   uint64_t c_clones_held(void)
 *
 * The hook runs inside poll_fn/drop_fn, on the thread that polls (the host's JS thread).
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    const FfiWakerBase *waker;
} FfiContext;

enum { POLL_READY = 0, POLL_PENDING = 1 };
enum { HOOK_POLL = 1, HOOK_PENDING = 2, HOOK_DROP = 3 };

typedef void (*Hook)(uint32_t event, uint32_t n);
typedef struct Point {
    double x, y;
} Point;
typedef struct FfiPollU32 {
    uint8_t tag;
    uint32_t value;
} FfiPollU32;
typedef struct FfiPollPoint {
    uint8_t tag;
    Point value;
} FfiPollPoint;
typedef struct FfiPollPtr {
    uint8_t tag;
    char *value;
} FfiPollPtr;
typedef struct FfiFuture {
    void *fut_ptr;
    void *poll_fn;
    void (*drop_fn)(void *fut_ptr);
} FfiFuture;
_Static_assert(sizeof(FfiFuture) == 24, "FfiFuture is 24 bytes");
_Static_assert(sizeof(FfiPollPoint) == 24, "FfiPoll<Point>: tag, Point @8");

static atomic_llong futures_alive;
static atomic_llong strings_alive;

EXPORT int64_t c_hook_futures_alive(void) { return atomic_load(&futures_alive); }
EXPORT int64_t c_hook_strings_alive(void) { return atomic_load(&strings_alive); }

EXPORT void c_hook_free(char *s) {
    if (s == NULL) return;
    atomic_fetch_sub(&strings_alive, 1);
    free(s);
}

typedef struct HookFuture {
    Hook hook;
    uint32_t pending; /* Pending results before Ready; UINT32_MAX: never Ready, never woken */
    uint32_t polls;
} HookFuture;

/* Runs one poll's hooks; returns nonzero when this poll is Ready. */
static int hook_step(HookFuture *f, FfiContext *cx) {
    uint32_t n = ++f->polls;
    f->hook(HOOK_POLL, n);
    if (f->pending != UINT32_MAX && n > f->pending) return 1;
    if (f->pending != UINT32_MAX) cx->waker->vtable->wake_by_ref(cx->waker);
    f->hook(HOOK_PENDING, n);
    return 0;
}

static FfiPollU32 hook_u32_poll(void *p, FfiContext *cx) {
    HookFuture *f = p;
    if (hook_step(f, cx)) return (FfiPollU32){.tag = POLL_READY, .value = f->polls};
    return (FfiPollU32){.tag = POLL_PENDING};
}

static FfiPollPoint hook_point_poll(void *p, FfiContext *cx) {
    HookFuture *f = p;
    if (hook_step(f, cx)) return (FfiPollPoint){.tag = POLL_READY, .value = {f->polls, 2.0 * f->polls}};
    return (FfiPollPoint){.tag = POLL_PENDING};
}

static FfiPollPtr hook_string_poll(void *p, FfiContext *cx) {
    HookFuture *f = p;
    if (!hook_step(f, cx)) return (FfiPollPtr){.tag = POLL_PENDING};
    char *s = malloc(32);
    if (!s) abort();
    snprintf(s, 32, "hook %u", f->polls);
    atomic_fetch_add(&strings_alive, 1);
    return (FfiPollPtr){.tag = POLL_READY, .value = s};
}

static void hook_drop(void *p) {
    HookFuture *f = p;
    f->hook(HOOK_DROP, f->polls);
    atomic_fetch_sub(&futures_alive, 1);
    free(f);
}

static FfiFuture hook_new(Hook hook, uint32_t pending, void *poll_fn) {
    HookFuture *f = malloc(sizeof *f);
    if (!f) abort();
    f->hook = hook;
    f->pending = pending;
    f->polls = 0;
    atomic_fetch_add(&futures_alive, 1);
    return (FfiFuture){.fut_ptr = f, .poll_fn = poll_fn, .drop_fn = hook_drop};
}

EXPORT FfiFuture c_hook_u32(Hook hook, uint32_t pending) { return hook_new(hook, pending, (void *)hook_u32_poll); }
EXPORT FfiFuture c_hook_point(Hook hook, uint32_t pending) { return hook_new(hook, pending, (void *)hook_point_poll); }
EXPORT FfiFuture c_hook_string(Hook hook, uint32_t pending) { return hook_new(hook, pending, (void *)hook_string_poll); }
EXPORT FfiFuture c_hook_wait(Hook hook) { return hook_new(hook, UINT32_MAX, (void *)hook_u32_poll); }

/* ---- waker abuse ------------------------------------------------------------------------------ */

static const FfiWakerBase **kept;
static uint64_t kept_n;

typedef struct LeakFuture {
    uint64_t n;
    uint32_t polls;
} LeakFuture;

static FfiPollU32 leak_poll(void *p, FfiContext *cx) {
    LeakFuture *f = p;
    if (++f->polls > 1) return (FfiPollU32){.tag = POLL_READY, .value = 1};
    const FfiWakerBase *w = cx->waker;
    /* Clone n times; keep only the pointers (they are all the same cell for rustplug, so one
     * slot suffices to drop them all later). */
    for (uint64_t i = 0; i < f->n; i++) w->vtable->clone(w);
    kept = realloc(kept, sizeof *kept);
    if (!kept) abort();
    kept[0] = w;
    kept_n = f->n;
    w->vtable->wake_by_ref(w);
    return (FfiPollU32){.tag = POLL_PENDING};
}

static void leak_drop(void *p) {
    atomic_fetch_sub(&futures_alive, 1);
    free(p);
}

EXPORT FfiFuture c_clone_leak(uint64_t n) {
    LeakFuture *f = calloc(1, sizeof *f);
    if (!f) abort();
    f->n = n;
    atomic_fetch_add(&futures_alive, 1);
    return (FfiFuture){.fut_ptr = f, .poll_fn = (void *)leak_poll, .drop_fn = leak_drop};
}

EXPORT void c_clone_drop_all(void) {
    while (kept_n > 1) {
        kept[0]->vtable->drop(kept[0]);
        kept_n--;
    }
}

EXPORT void c_clone_wake_last(void) {
    if (kept_n == 0) return;
    kept_n--;
    kept[0]->vtable->wake(kept[0]);
}

EXPORT uint64_t c_clones_held(void) { return kept_n; }
