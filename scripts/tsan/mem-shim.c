/*
 * Preloaded after gcc's libtsan by scripts/test-tsan.sh. The Rust fixtures are instrumented by
 * rustc's LLVM, whose TSan pass turns memcpy/memmove/memset into calls to __tsan_memcpy,
 * __tsan_memmove and __tsan_memset; gcc 12's libtsan (an older compiler-rt) does not define
 * them. Here they check the ranges like the newer runtime does, then copy. Built without
 * -fsanitize=thread: the memcpy below is the runtime's interceptor, which ignores calls from this
 * uninstrumented module (ignore_noninstrumented_modules=1), so nothing is checked twice.
 */
#include <stddef.h>
#include <string.h>

void __tsan_read_range(void *addr, unsigned long size);
void __tsan_write_range(void *addr, unsigned long size);

void *__tsan_memcpy(void *dst, const void *src, size_t n) {
    __tsan_read_range((void *)src, n);
    __tsan_write_range(dst, n);
    return memcpy(dst, src, n);
}

void *__tsan_memmove(void *dst, const void *src, size_t n) {
    __tsan_read_range((void *)src, n);
    __tsan_write_range(dst, n);
    return memmove(dst, src, n);
}

void *__tsan_memset(void *dst, int c, size_t n) {
    __tsan_write_range(dst, n);
    return memset(dst, c, n);
}
