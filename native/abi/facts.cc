// The ABI facts TypeScript needs, exported once at load time, so that no TS file restates a tag,
// a kind number or a register budget (src/abi.ts reads them from here).
#include "facts.h"

#include <cstddef>

#include "../call/plan.h"
#include "async_ffi.h"

namespace rustplug {

namespace {

void SetNumber(napi_env env, napi_value obj, const char* key, double v) {
  napi_value n;
  napi_create_double(env, v, &n);
  napi_set_named_property(env, obj, key, n);
}

napi_value Table(napi_env env, const char* const* names, size_t n) {
  napi_value obj;
  napi_create_object(env, &obj);
  for (size_t i = 0; i < n; ++i) SetNumber(env, obj, names[i], static_cast<double>(i));
  return obj;
}

}  // namespace

void RegisterAbiFacts(napi_env env, napi_value exports) {
  napi_value abi;
  napi_create_object(env, &abi);

  static const char* const kKinds[] = {"void", "bool", "i8",  "u8",  "i16",     "u16",    "i32", "u32",
                                       "i64",  "u64",  "f32", "f64", "pointer", "string", "js"};
  static_assert(sizeof(kKinds) / sizeof(kKinds[0]) == kResultKindCount, "one name per ResultKind");
  napi_set_named_property(env, abi, "resultKinds", Table(env, kKinds, kResultKindCount));

  static const char* const kTags[] = {"ready", "pending", "panicked"};
  static_assert(kPollReady == 0 && kPollPending == 1 && kPollPanicked == 2, "tags in FfiPoll order");
  napi_set_named_property(env, abi, "pollTags", Table(env, kTags, 3));

  static const char* const kOptions[] = {"none", "some"};
  static_assert(kOptionNone == 0 && kOptionSome == 1, "tags in FfiOption order");
  napi_set_named_property(env, abi, "optionTags", Table(env, kOptions, 2));

  static const char* const kClasses[] = {"integer", "f64", "f32"};
  static_assert(sizeof(kClasses) / sizeof(kClasses[0]) == kArgClassCount, "one name per ArgClass");
  napi_set_named_property(env, abi, "argClasses", Table(env, kClasses, kArgClassCount));

  napi_value regs;
  napi_create_object(env, &regs);
  const RegisterBudget budget = FutureCallBudget();
  SetNumber(env, regs, "integer", static_cast<double>(budget.integer));
  SetNumber(env, regs, "float", static_cast<double>(budget.floats));
  napi_set_named_property(env, abi, "futureCallRegisters", regs);

  napi_create_object(env, &regs);
  const RegisterBudget sync_budget = SyncCallBudget();
  SetNumber(env, regs, "integer", static_cast<double>(sync_budget.integer));
  SetNumber(env, regs, "float", static_cast<double>(sync_budget.floats));
  napi_set_named_property(env, abi, "syncCallRegisters", regs);

  static const char* const kReturns[] = {"word", "f64", "f32", "string"};
  static_assert(sizeof(kReturns) / sizeof(kReturns[0]) == kSyncReturnCount, "one name per SyncReturn");
  napi_set_named_property(env, abi, "syncReturns", Table(env, kReturns, kSyncReturnCount));

  // Byte offsets JS writes the argument registers at and reads the result from.
  napi_value frame;
  napi_create_object(env, &frame);
  SetNumber(env, frame, "size", sizeof(SyncFrame));
  SetNumber(env, frame, "words", offsetof(SyncFrame, args) + offsetof(CallFrame, words));
  SetNumber(env, frame, "floats", offsetof(SyncFrame, args) + offsetof(CallFrame, floats));
  SetNumber(env, frame, "result", offsetof(SyncFrame, result));
  napi_set_named_property(env, abi, "syncFrame", frame);

  SetNumber(env, abi, "futureSize", sizeof(FfiFutureRaw));
  SetNumber(env, abi, "wakerVTableSize", sizeof(FfiWakerVTable));
  napi_set_named_property(env, exports, "abi", abi);
}

}  // namespace rustplug
