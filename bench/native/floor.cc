// Benchmark baseline only (bench/native, never shipped): the Node-API floor. floorOpen(path)
// dlopens a library with the benchmarks' sync call list (libbasic.so, libcbench.so) and returns
// functions that call it with the least a Node-API addon can do: read each argument with the
// napi_get_value_* call its type needs (which checks the type), call the function pointer, make
// the result. addAsync(a, b) runs add on libuv's thread pool (napi_async_work) and returns a
// promise: the floor of a thread-pool async call.
#include <dlfcn.h>
#include <node_api.h>

#include <cstdint>
#include <cstring>
#include <string>

namespace rustplug_bench {

namespace {

struct Point {
  double x, y;
};

struct Fns {
  int32_t (*add)(int32_t, int32_t);
  void (*nop)();
  double (*addf)(double, double);
  uint32_t (*sum64)(const uint8_t*);
  Point (*point_swap)(Point);
  const char* (*str_echo)(const char*);
};

#define CHECK(call)                                                  \
  do {                                                               \
    if ((call) != napi_ok) {                                         \
      napi_throw_type_error(env, nullptr, "floor: " #call " failed"); \
      return nullptr;                                                \
    }                                                                \
  } while (0)

Fns* FnsOf(napi_env env, napi_callback_info info, size_t* argc, napi_value* argv) {
  void* data = nullptr;
  if (napi_get_cb_info(env, info, argc, argv, nullptr, &data) != napi_ok) return nullptr;
  return static_cast<Fns*>(data);
}

napi_value Add(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  Fns* f = FnsOf(env, info, &argc, argv);
  int32_t a, b;
  CHECK(napi_get_value_int32(env, argv[0], &a));
  CHECK(napi_get_value_int32(env, argv[1], &b));
  napi_value r;
  CHECK(napi_create_int32(env, f->add(a, b), &r));
  return r;
}

napi_value Nop(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  Fns* f = FnsOf(env, info, &argc, nullptr);
  f->nop();
  return nullptr;
}

napi_value Addf(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  Fns* f = FnsOf(env, info, &argc, argv);
  double a, b;
  CHECK(napi_get_value_double(env, argv[0], &a));
  CHECK(napi_get_value_double(env, argv[1], &b));
  napi_value r;
  CHECK(napi_create_double(env, f->addf(a, b), &r));
  return r;
}

napi_value Sum64(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  Fns* f = FnsOf(env, info, &argc, argv);
  napi_typedarray_type type;
  size_t length;
  void* data;
  CHECK(napi_get_typedarray_info(env, argv[0], &type, &length, &data, nullptr, nullptr));
  if (length < 64) {
    napi_throw_range_error(env, nullptr, "sum64: needs 64 bytes");
    return nullptr;
  }
  napi_value r;
  CHECK(napi_create_uint32(env, f->sum64(static_cast<const uint8_t*>(data)), &r));
  return r;
}

napi_value PointSwap(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  Fns* f = FnsOf(env, info, &argc, argv);
  napi_value vx, vy;
  Point p;
  CHECK(napi_get_named_property(env, argv[0], "x", &vx));
  CHECK(napi_get_named_property(env, argv[0], "y", &vy));
  CHECK(napi_get_value_double(env, vx, &p.x));
  CHECK(napi_get_value_double(env, vy, &p.y));
  Point q = f->point_swap(p);
  napi_value r, rx, ry;
  CHECK(napi_create_object(env, &r));
  CHECK(napi_create_double(env, q.x, &rx));
  CHECK(napi_create_double(env, q.y, &ry));
  CHECK(napi_set_named_property(env, r, "x", rx));
  CHECK(napi_set_named_property(env, r, "y", ry));
  return r;
}

napi_value StrEcho(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  Fns* f = FnsOf(env, info, &argc, argv);
  char stack[256];
  size_t len;
  CHECK(napi_get_value_string_utf8(env, argv[0], nullptr, 0, &len));
  std::string heap;
  char* buf = stack;
  if (len + 1 > sizeof stack) {
    heap.resize(len + 1);
    buf = heap.data();
  }
  CHECK(napi_get_value_string_utf8(env, argv[0], buf, len + 1, &len));
  const char* out = f->str_echo(buf);
  napi_value r;
  CHECK(napi_create_string_utf8(env, out, NAPI_AUTO_LENGTH, &r));
  return r;
}

struct AddWork {
  napi_async_work work;
  napi_deferred deferred;
  int32_t (*add)(int32_t, int32_t);
  int32_t a, b, result;
};

napi_value AddAsync(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  Fns* f = FnsOf(env, info, &argc, argv);
  auto* w = new AddWork();
  w->add = f->add;
  if (napi_get_value_int32(env, argv[0], &w->a) != napi_ok || napi_get_value_int32(env, argv[1], &w->b) != napi_ok) {
    delete w;
    napi_throw_type_error(env, nullptr, "addAsync: numbers expected");
    return nullptr;
  }
  napi_value promise, name;
  napi_create_promise(env, &w->deferred, &promise);
  napi_create_string_utf8(env, "floor:addAsync", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(
      env, nullptr, name,
      [](napi_env, void* data) {
        auto* w = static_cast<AddWork*>(data);
        w->result = w->add(w->a, w->b);
      },
      [](napi_env env, napi_status, void* data) {
        auto* w = static_cast<AddWork*>(data);
        napi_value r;
        napi_create_int32(env, w->result, &r);
        napi_resolve_deferred(env, w->deferred, r);
        napi_delete_async_work(env, w->work);
        delete w;
      },
      w, &w->work);
  napi_queue_async_work(env, w->work);
  return promise;
}

template <typename T>
bool Sym(void* handle, const char* name, T* out) {
  *out = reinterpret_cast<T>(dlsym(handle, name));
  return *out != nullptr;
}

napi_value Open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  char path[4096];
  size_t len;
  CHECK(napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len));
  void* handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    napi_throw_error(env, nullptr, dlerror());
    return nullptr;
  }
  // Never freed: one per library per process, like the library itself (never dlclosed).
  auto* f = new Fns();
  if (!Sym(handle, "add", &f->add) || !Sym(handle, "nop", &f->nop) || !Sym(handle, "addf", &f->addf) ||
      !Sym(handle, "sum64", &f->sum64) || !Sym(handle, "point_swap", &f->point_swap) ||
      !Sym(handle, "str_echo", &f->str_echo)) {
    delete f;
    napi_throw_error(env, nullptr, "floorOpen: a symbol of the benchmark list is missing");
    return nullptr;
  }
  napi_value obj;
  CHECK(napi_create_object(env, &obj));
  const struct {
    const char* name;
    napi_callback cb;
  } fns[] = {{"add", Add},         {"nop", Nop},         {"addf", Addf},        {"sum64", Sum64},
             {"pointSwap", PointSwap}, {"strEcho", StrEcho}, {"addAsync", AddAsync}};
  for (const auto& e : fns) {
    napi_value fn;
    CHECK(napi_create_function(env, e.name, NAPI_AUTO_LENGTH, e.cb, f, &fn));
    CHECK(napi_set_named_property(env, obj, e.name, fn));
  }
  return obj;
}

}  // namespace

void InitFloor(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "floorOpen", NAPI_AUTO_LENGTH, Open, nullptr, &fn);
  napi_set_named_property(env, exports, "floorOpen", fn);
}

}  // namespace rustplug_bench
