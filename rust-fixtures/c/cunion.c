/*
 * libcunion.so: C unions through rustplug ({ union: { ... } }), and pointer results whose byte
 * length another parameter gives ({ buffer: { lengthFrom } }).
 *
 *   typedef union { int32_t i; double f; } Num;              8 bytes, align 8
 *   typedef struct { uint8_t tag; Num num; } Tagged;         16 bytes: num @8 (tag 0 = i, 1 = f)
 *
 *   Num     cu_make_i32(int32_t i);   Num cu_make_f64(double f)   (a fresh Num: all 8 bytes set)
 *   int32_t cu_get_i32(Num n);        double cu_get_f64(Num n)
 *   double  cu_tagged_value(Tagged t)                             t.num.i or t.num.f by t.tag
 *   Tagged  cu_tagged_make(uint8_t tag, double v)                 tag 0: num.i = (int32_t)v
 *   double  cu_ptr_f64(const Num *n)                              n->f, NaN for null
 *   void    cu_set_i32(Num *n, int32_t i)                          n->i = i (upper bytes kept)
 *   FfiFuture cu_ready_num(double f)                              FfiFuture<Num>, ready at once
 *
 *   uint8_t *cu_bytes(uint32_t n, size_t *len)   malloc'd 0, 1, …, n-1 (mod 256), *len = n;
 *                                                NULL (and *len = 0) for n == 0
 *   const uint8_t *cu_static(size_t n)           a static "0123456789" (n ≤ 10), not to be freed
 *   uint8_t *cu_bytes_bad_len(int64_t *len)      malloc'd 4 bytes, *len = -1 (a lying plugin)
 *   void     cu_free_bytes(uint8_t *p)           null-safe
 *   int64_t  cu_bytes_alive(void)                cu_bytes/cu_bytes_bad_len allocations - frees
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

typedef union Num {
    int32_t i;
    double f;
} Num;

typedef struct Tagged {
    uint8_t tag;
    Num num;
} Tagged;

_Static_assert(sizeof(Num) == 8, "Num is 8 bytes");
_Static_assert(sizeof(Tagged) == 16, "Tagged is 16 bytes");

EXPORT Num cu_make_i32(int32_t i) {
    Num n;
    memset(&n, 0, sizeof n);
    n.i = i;
    return n;
}

EXPORT Num cu_make_f64(double f) {
    Num n;
    n.f = f;
    return n;
}

EXPORT int32_t cu_get_i32(Num n) { return n.i; }
EXPORT double cu_get_f64(Num n) { return n.f; }

EXPORT double cu_tagged_value(Tagged t) { return t.tag == 0 ? (double)t.num.i : t.num.f; }

EXPORT Tagged cu_tagged_make(uint8_t tag, double v) {
    Tagged t;
    memset(&t, 0, sizeof t);
    t.tag = tag;
    if (tag == 0)
        t.num.i = (int32_t)v;
    else
        t.num.f = v;
    return t;
}

EXPORT double cu_ptr_f64(const Num *n) { return n ? n->f : NAN; }

EXPORT void cu_set_i32(Num *n, int32_t i) {
    if (n) n->i = i;
}

/* ---- FfiFuture<Num> (async-ffi 0.5; see c_async.c and docs/abi.md) --------------------------- */

typedef struct FfiContext FfiContext;

/* FfiPoll<Num>: a u8 tag, the value at offset 8 (16 bytes, returned in RAX:XMM0-like classes). */
typedef struct FfiPollNum {
    uint8_t tag;
    Num value;
} FfiPollNum;

typedef struct FfiFuture {
    void *fut_ptr;
    FfiPollNum (*poll_fn)(void *fut_ptr, FfiContext *cx);
    void (*drop_fn)(void *fut_ptr);
} FfiFuture;

static FfiPollNum ready_poll(void *fut_ptr, FfiContext *cx) {
    (void)cx;
    return (FfiPollNum){.tag = 0, .value = *(Num *)fut_ptr};
}

static void ready_drop(void *fut_ptr) { free(fut_ptr); }

EXPORT FfiFuture cu_ready_num(double f) {
    Num *n = malloc(sizeof *n);
    if (!n) abort();
    n->f = f;
    return (FfiFuture){.fut_ptr = n, .poll_fn = ready_poll, .drop_fn = ready_drop};
}

/* ---- buffers ---------------------------------------------------------------------------------- */

static int64_t bytes_alive;

EXPORT uint8_t *cu_bytes(uint32_t n, size_t *len) {
    if (n == 0) {
        if (len) *len = 0;
        return NULL;
    }
    uint8_t *p = malloc(n);
    if (!p) abort();
    for (uint32_t k = 0; k < n; k++) p[k] = (uint8_t)k;
    bytes_alive++;
    if (len) *len = n;
    return p;
}

EXPORT const uint8_t *cu_static(size_t n) {
    (void)n;
    return (const uint8_t *)"0123456789";
}

EXPORT uint8_t *cu_bytes_bad_len(int64_t *len) {
    uint8_t *p = malloc(4);
    if (!p) abort();
    memset(p, 7, 4);
    bytes_alive++;
    if (len) *len = -1;
    return p;
}

EXPORT void cu_free_bytes(uint8_t *p) {
    if (!p) return;
    bytes_alive--;
    free(p);
}

EXPORT int64_t cu_bytes_alive(void) { return bytes_alive; }
