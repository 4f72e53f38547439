// Child process for test/callback-thread.test.ts: a plugin that calls a JS callback from another
// thread while the JS thread waits in the call. Unguarded, this deadlocks (the parent kills it).
//   node test/workers/callback-thread.mjs <libbasic.so>
// Prints one JSON line with what each step returned or threw.
import { open } from '../../dist/index.js';

const lib = open(process.argv[2], {
  call_on_thread: { parameters: [{ function: { parameters: ['i32'], result: 'i32' } }, 'i32'], result: 'i32' },
  apply_twice: { parameters: [{ function: { parameters: ['i32'], result: 'i32' } }, 'i32'], result: 'i32' },
});
const s = lib.symbols;
const outcome = (f) => {
  try {
    return { value: f() };
  } catch (e) {
    return { error: { name: e.name, code: e.code, symbol: e.symbol, parameter: e.parameter, callback: e.callback, message: e.message } };
  }
};

let ran = 0;
function onValue(x) {
  ran++;
  return x + 1;
}
const out = {};
out.foreign = outcome(() => s.call_on_thread(onValue, 41));
out.ranOnForeignThread = ran;
// The JS thread's own calls still go through, before and after; slots are released every time
// (1024 thunks: 3000 calls would exhaust a leaking pool, and the foreign call would then hang).
out.sameThread = outcome(() => s.apply_twice((x) => x * 3, 2));
for (let i = 0; i < 3000; i++) s.apply_twice(onValue, i);
out.foreignAgain = outcome(() => s.call_on_thread(() => 1, 0));
// Nested: a callback that calls into the plugin with a callback of its own.
out.nested = outcome(() => s.apply_twice((x) => s.apply_twice((y) => y + 1, x), 0));
// A callback's own exception still comes out of the call.
out.throws = outcome(() =>
  s.apply_twice(() => {
    throw new Error('from the callback');
  }, 0),
);
// The fix the message suggests: a native function may be called from any thread.
const echo = lib.address('echo_i32');
out.native = outcome(() => s.call_on_thread(echo, 41));
console.log(JSON.stringify(out));
