// Child process for test/read-once.test.ts and test/async-rejects.test.ts: arguments that answer
// differently on a second read, crash the process if something hands them to koffi twice, or
// are too big (or too mutable) to be handled in the test runner's own process.
//   node test/workers/hostile-args.mjs <libbasic.so> <libasync_plugin.so> <case>
// Prints one JSON line { case, outcome: 'returned' | 'threw' | 'resolved' | 'rejected', value?, code?, message? }.
import { open } from '../../dist/index.js';

const [basicPath, asyncPluginPath, name] = process.argv.slice(2);
const P = { struct: { x: 'f64', y: 'f64' } };
const basic = open(basicPath, {
  point_len: { parameters: [P], result: 'f64' },
  point_norm_ptr: { parameters: [{ pointer: P }], result: 'f64' },
  point_scale_in_place: { parameters: [{ inout: P }, 'f64'], result: 'void' },
  mixed_sum: { parameters: [{ struct: ['u8', 'i32', 'u64', 'f32'] }], result: 'f64' },
  f64_ptr_inc: { parameters: [{ pointer: 'f64' }], result: 'f64' },
});
const plugin = open(asyncPluginPath, {
  point_len_after: { parameters: ['u32', P], result: { future: 'f64' } },
  ready_pointer: { parameters: [{ pointer: P }], result: { future: 'pointer' } },
  ready_u64: { parameters: ['u64'], result: { future: 'u64' } },
  fetch_len: { parameters: ['string'], result: { future: 'u64' } },
  // delayed_string reads its argument after the sleep: here a buffer holding a C string
  delayed_buffer: { name: 'delayed_string', parameters: ['buffer', 'u32'], result: { future: 'string' }, free: 'async_free_string' },
});

/** 'hi\0' in a buffer of `kind`, with room to grow to 64 KiB. */
function cstringIn(kind) {
  const ab =
    kind === 'resizable' ? new ArrayBuffer(3, { maxByteLength: 1 << 16 }) : kind === 'growable' ? new SharedArrayBuffer(3, { maxByteLength: 1 << 16 }) : new ArrayBuffer(3);
  new Uint8Array(ab).set([0x68, 0x69, 0]);
  return ab;
}

/** A string of V8's maximum length, built as a rope (no 512 MiB copy until something flattens it). */
function longestString() {
  const mib = 'x'.repeat(1 << 20);
  let s = '';
  for (let i = 0; i < 511; i++) s += mib;
  return s + 'x'.repeat((1 << 20) - 24);
}

/** A point whose x is 3 on the first read and `then()` (a throw, another type…) afterwards. */
function flipping(then) {
  let reads = 0;
  return {
    get x() {
      return reads++ === 0 ? 3 : then();
    },
    y: 4,
  };
}
const throws = () => {
  throw new Error('second read');
};
const object = () => ({ valueOf: () => 1 });

const cases = {
  'sync-struct-throw': () => basic.symbols.point_len(flipping(throws)),
  'sync-struct-type': () => basic.symbols.point_len(flipping(object)),
  'sync-pointer-throw': () => basic.symbols.point_norm_ptr(flipping(throws)),
  'sync-inout-throw': () => {
    const box = { value: flipping(throws) };
    basic.symbols.point_scale_in_place(box, 2);
    return box.value.x;
  },
  'sync-tuple-throw': () => {
    const m = [1, 2, 3, 4];
    let reads = 0;
    Object.defineProperty(m, 1, { get: () => (reads++ === 0 ? 2 : throws()) });
    return basic.symbols.mixed_sum(m);
  },
  // koffi takes a bare number for a scalar pointer as an address: 5 would be dereferenced.
  'sync-scalar-pointer': () => basic.symbols.f64_ptr_inc(5),
  'future-struct-throw': () => plugin.symbols.point_len_after(1, flipping(throws)),
  'future-struct-type': () => plugin.symbols.point_len_after(1, flipping(object)),
  'future-pointer-throw': () => plugin.symbols.ready_pointer(flipping(throws)).then((p) => typeof p),
  // One past the limit when the wrapper appends the C string's NUL.
  'future-longest-string': () => plugin.symbols.fetch_len(longestString()),
  // Shrunk while the plugin still holds the address: the pages behind it are decommitted.
  'future-resizable-shrunk': () => {
    const ab = cstringIn('resizable');
    const p = plugin.symbols.delayed_buffer(ab, 20);
    ab.resize(0);
    return p;
  },
  'future-resizable-view': () => plugin.symbols.delayed_buffer(new DataView(cstringIn('resizable')), 1),
  'future-growable-sab': () => {
    const sab = cstringIn('growable');
    const p = plugin.symbols.delayed_buffer(new Uint8Array(sab), 20);
    sab.grow(1 << 16);
    return p;
  },
  'future-fixed-buffer': () => plugin.symbols.delayed_buffer(cstringIn('fixed'), 1),
};

const say = (o) => process.stdout.write(JSON.stringify({ case: name, ...o }) + '\n');
const report = (e) => ({ code: e?.code ?? null, message: String(e?.message ?? e) });
try {
  const r = cases[name]();
  if (r instanceof Promise) {
    r.then(
      (value) => say({ outcome: 'resolved', value }),
      (e) => say({ outcome: 'rejected', ...report(e) }),
    );
  } else {
    say({ outcome: 'returned', value: r });
  }
} catch (e) {
  say({ outcome: 'threw', ...report(e) });
}
