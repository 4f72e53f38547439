// The message and location of a panic caught inside a plugin's poll. The async-ffi ABI carries
// no payload, so plugins built with the rustplug-plugin kit keep it in a per-thread slot that
// the exported `rustplug_take_panic(buf, cap)` hands over (see the kit's `panic` module): the
// record is "<ns since the epoch> <text>", written on the thread that polled, which is the JS
// thread that reads it right after the poll.
//
// The runtime only tells the error callback the symbol's name, so each library registers its
// reader under the names of its future and stream symbols. Several libraries may declare the
// same name (mod_b and mod_static_b share their source), and every cdylib has its own copy of
// the kit: each candidate's slot is taken (emptied) and the newest record wins, so a record left
// behind by a poll whose rejection was decided otherwise (e.g. by an abort) never outlives the
// next panic.
import koffi from 'koffi';

// Anonymous: koffi type names are process-wide, and another copy of rustplug may load.
const TAKE_PROTO = koffi.proto('size_t', ['void *', 'size_t']);
const RECORD_BYTES = 4096;

type Take = (buf: Buffer, cap: number) => number | bigint;
const readers = new Map<string, Set<Take>>();

/** Registers the `rustplug_take_panic` at `address` for `names`; returns the unregister function. */
export function registerPanicSource(address: bigint, names: readonly string[]): () => void {
  const take = koffi.decode(address, TAKE_PROTO) as Take;
  for (const n of names) {
    let set = readers.get(n);
    if (set === undefined) readers.set(n, (set = new Set()));
    set.add(take);
  }
  return () => {
    for (const n of names) {
      const set = readers.get(n);
      set?.delete(take);
      if (set?.size === 0) readers.delete(n);
    }
  };
}

/** The text of the panic the plugin caught for a future or stream of symbol `name`, or null. */
export function takePanic(name: string): string | null {
  const set = readers.get(name);
  if (set === undefined) return null;
  let best: { when: bigint; text: string } | null = null;
  const buf = Buffer.alloc(RECORD_BYTES);
  for (const take of set) {
    const len = Number(take(buf, RECORD_BYTES));
    if (len === 0) continue;
    const record = buf.toString('utf8', 0, Math.min(len, RECORD_BYTES));
    const space = record.indexOf(' ');
    if (space < 0) continue;
    let when: bigint;
    try {
      when = BigInt(record.slice(0, space));
    } catch {
      continue;
    }
    const text = record.slice(space + 1) + (len > RECORD_BYTES ? '…' : '');
    if (best === null || when > best.when) best = { when, text };
  }
  return best?.text ?? null;
}
