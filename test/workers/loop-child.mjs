// Child process for the event-loop tests in test/future.test.ts:
//   node test/workers/loop-child.mjs <libasync_plugin.so> <mode>
// Prints one JSON line per event; the parent checks the lines, the exit code and the timing.
import { open, futureStats } from '../../dist/index.js';

const [plugin, mode] = process.argv.slice(2);
const decls = {
  sleep_u64: { parameters: ['u32', 'u64'], result: { future: 'u64' } },
  thread_sleep_u64: { parameters: ['u32', 'u64'], result: { future: 'u64' } },
  never: { parameters: [], result: { future: 'void' } },
  never_unref: { name: 'never', parameters: [], result: { future: 'void' }, ref: false },
  never_ref: { name: 'never', parameters: [], result: { future: 'void' }, ref: true },
  futures_alive: { parameters: [], result: 'i64' },
};
const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const stats = () => futureStats();
process.on('exit', (code) => say({ event: 'exit', code, pending: stats().pending, loopRefs: stats().loopRefs }));

const print = (what) => (v) => say({ event: what, value: typeof v === 'bigint' ? String(v) : v ?? null });
const fail = (e) => say({ event: 'rejected', code: e?.code ?? null, name: e?.name ?? null });

switch (mode) {
  case 'ref-sleep': {
    // A ref'd pending future is the only thing keeping the loop alive.
    const lib = open(plugin, decls);
    lib.symbols.sleep_u64(300, 42).then(print('resolved'), fail);
    say({ event: 'started', loopRefs: stats().loopRefs });
    break;
  }
  case 'ref-thread': {
    const lib = open(plugin, decls);
    lib.symbols.thread_sleep_u64(300, 7).then(print('resolved'), fail);
    say({ event: 'started', loopRefs: stats().loopRefs });
    break;
  }
  case 'ref-never': {
    // Never settles: the child must stay alive until the parent kills it.
    const lib = open(plugin, decls);
    lib.symbols.never().then(print('resolved'), fail);
    say({ event: 'started', loopRefs: stats().loopRefs });
    break;
  }
  case 'unref-call': {
    const lib = open(plugin, decls);
    lib.symbols.never({ ref: false }).then(print('resolved'), fail);
    lib.symbols.sleep_u64(5000, 1, { ref: false }).then(print('resolved'), fail);
    lib.symbols.thread_sleep_u64(5000, 1, { ref: false }).then(print('resolved'), fail);
    say({ event: 'started', loopRefs: stats().loopRefs, pending: stats().pending });
    break;
  }
  case 'unref-decl': {
    const lib = open(plugin, decls);
    lib.symbols.never_unref().then(print('resolved'), fail);
    say({ event: 'started', loopRefs: stats().loopRefs, pending: stats().pending });
    break;
  }
  case 'unref-open': {
    // open(..., { ref: false }) is the default for every future of the library...
    const lib = open(plugin, decls, { ref: false });
    lib.symbols.never().then(print('resolved'), fail);
    lib.symbols.sleep_u64(5000, 1).then(print('resolved'), fail);
    say({ event: 'started', loopRefs: stats().loopRefs, pending: stats().pending });
    break;
  }
  case 'unref-open-ref-call': {
    // ...but a call's { ref: true } wins: this child lives until the sleep resolves.
    const lib = open(plugin, decls, { ref: false });
    lib.symbols.never().then(print('resolved'), fail);
    lib.symbols.sleep_u64(300, 9, { ref: true }).then(print('resolved'), fail);
    say({ event: 'started', loopRefs: stats().loopRefs, pending: stats().pending });
    break;
  }
  case 'unref-open-ref-decl': {
    const lib = open(plugin, decls, { ref: false });
    lib.symbols.never_ref().then(print('resolved'), fail);
    say({ event: 'started', loopRefs: stats().loopRefs, pending: stats().pending });
    break;
  }
  case 'unref-then-ref': {
    // An unref'd future that later settles, then the process exits when the ref'd one is done.
    const lib = open(plugin, decls);
    lib.symbols.sleep_u64(50, 1, { ref: false }).then(print('unref-resolved'), fail);
    lib.symbols.sleep_u64(200, 2).then(print('resolved'), fail);
    say({ event: 'started', loopRefs: stats().loopRefs, pending: stats().pending });
    break;
  }
  case 'exit-with-pending': {
    // process.exit() while futures are pending (ref'd and not) must not crash.
    const lib = open(plugin, decls);
    lib.symbols.never().then(print('resolved'), fail);
    // Far longer than the 20 ms before exit, so a slow loop (test:tsan) still exits first.
    lib.symbols.thread_sleep_u64(5000, 1).then(print('resolved'), fail);
    lib.symbols.sleep_u64(5000, 1).then(print('resolved'), fail);
    say({ event: 'started', pending: stats().pending });
    setTimeout(() => process.exit(3), 20);
    break;
  }
  default:
    say({ event: 'bad-mode', mode });
    process.exitCode = 2;
}
