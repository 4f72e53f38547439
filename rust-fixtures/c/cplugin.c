/* libcplugin.so: a plain C shared library for rustplug's tests (no Rust at all). */

int c_add(int a, int b) { return a + b; }

double c_mul(double a, double b) { return a * b; }

const char *c_name(void) { return "cplugin"; }
