/* libcbench.so: the benchmarks' sync call list in plain C (bench/), with the same names and
 * signatures as the Rust fixture libbasic.so exports them, so every system calls both libraries
 * the same way. */
#include <stddef.h>
#include <stdint.h>

typedef struct {
  double x, y;
} Point;

int32_t add(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }

void nop(void) {}

double addf(double a, double b) { return a + b; }

/* Sum of the 64 bytes at p (0 for null). */
uint32_t sum64(const uint8_t *p) {
  if (p == NULL) return 0;
  uint32_t s = 0;
  for (int i = 0; i < 64; i++) s += p[i];
  return s;
}

/* A struct in and out by value. */
Point point_swap(Point p) {
  Point r = {p.y, p.x};
  return r;
}

/* A string round trip: returns its argument (borrowed). */
const char *str_echo(const char *s) { return s; }
