// One pass over a JS argument that validates it and copies it into a plain value koffi consumes
// (structs become fresh { f0, f1, … } objects). Every user property is read exactly once, so a
// getter that answers differently the second time, or throws, cannot reach koffi: koffi only ever
// sees values this module built. Functions are generated per struct type (V8 sees monomorphic
// field loads); user field names enter the source only as JSON string literals.
import koffi from 'koffi';

import { is64, isArrayIR, isStructIR, isUnionIR, koffiOf, SCALARS } from './ir.js';
import type { ArrayIR, StructIR, UnionIR, ValueIR } from './ir.js';

/** What a snapshot returns for an invalid value (never a value koffi could receive). */
export const BAD: unique symbol = Symbol('rustplug.invalid');

export type Snapshot = (v: unknown) => unknown;
export type Decoder = (k: unknown) => unknown;

const snapshots = new WeakMap<StructIR | ArrayIR | UnionIR, Snapshot>();
const scalarSnapshots = new Map<string, Snapshot>();
const decoders = new WeakMap<StructIR | ArrayIR | UnionIR, Decoder>();

/** [T; N]: a JS array (or a TypedArray, not a DataView) of exactly N valid elements, copied into a fresh array. */
function arraySnapshot(t: ArrayIR): Snapshot {
  const n = t.length;
  const head = `if (!(Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView))) || v.length !== ${n}) return BAD;\nconst out = new Array(${n});`;
  if (typeof t.element === 'string') {
    const check = SCALARS[t.element]!.check('e');
    return new Function('BAD', `"use strict";\nreturn function snapshot(v) {\n${head}\nfor (let i = 0; i < ${n}; i++) { const e = v[i]; if (!(${check})) return BAD; out[i] = e; }\nreturn out;\n};`)(BAD) as Snapshot;
  }
  const inner = snapshotOf(t.element);
  return new Function('BAD', 'S', `"use strict";\nreturn function snapshot(v) {\n${head}\nfor (let i = 0; i < ${n}; i++) { const s = S(v[i]); if (s === BAD) return BAD; out[i] = s; }\nreturn out;\n};`)(BAD, inner) as Snapshot;
}

/**
 * A union: an object with exactly one member set (not undefined), copied into { f<i>: value }.
 * Each member's key is read once, whichever is set; none or several set is BAD.
 */
function unionSnapshot(t: UnionIR): Snapshot {
  const nested: Snapshot[] = [];
  const lines = [`if (typeof v !== 'object' || v === null || Array.isArray(v)) return BAD;`, `let out, n = 0;`];
  t.members.forEach((m, i) => {
    lines.push(`const v${i} = v[${JSON.stringify(m.name)}];`);
  });
  t.members.forEach((m, i) => {
    lines.push(`if (v${i} !== undefined) {`, `  if (++n > 1) return BAD;`);
    if (typeof m.type !== 'string') {
      nested.push(snapshotOf(m.type));
      lines.push(`  const s = N[${nested.length - 1}](v${i});`, `  if (s === BAD) return BAD;`, `  out = { f${i}: s };`);
    } else {
      lines.push(`  if (!(${SCALARS[m.type]!.check(`v${i}`)})) return BAD;`, `  out = { f${i}: v${i} };`);
    }
    lines.push(`}`);
  });
  lines.push(`return n === 1 ? out : BAD;`);
  return new Function('BAD', 'N', `"use strict";\nreturn function snapshot(v) {\n${lines.join('\n')}\n};`)(BAD, nested) as Snapshot;
}

/** JS value → koffi value, or BAD. Scalars come back as they are. */
export function snapshotOf(t: ValueIR): Snapshot {
  if (isArrayIR(t)) {
    let s = snapshots.get(t);
    if (s === undefined) snapshots.set(t, (s = arraySnapshot(t)));
    return s;
  }
  if (isUnionIR(t)) {
    let s = snapshots.get(t);
    if (s === undefined) snapshots.set(t, (s = unionSnapshot(t)));
    return s;
  }
  if (!isStructIR(t)) {
    let s = scalarSnapshots.get(t);
    if (s === undefined) {
      s = new Function('BAD', `"use strict"; return function snapshot(v) { return ${SCALARS[t]!.check('v')} ? v : BAD; };`)(BAD) as Snapshot;
      scalarSnapshots.set(t, s);
    }
    return s;
  }
  let s = snapshots.get(t);
  if (s === undefined) {
    const nested: Snapshot[] = [];
    const n = t.fields.length;
    const lines = [t.tuple ? `if (!Array.isArray(v) || v.length !== ${n}) return BAD;` : `if (typeof v !== 'object' || v === null) return BAD;`];
    const out: string[] = [];
    t.fields.forEach((f, i) => {
      lines.push(`const v${i} = v[${t.tuple ? i : JSON.stringify(f.name)}];`);
      if (typeof f.type !== 'string') {
        nested.push(snapshotOf(f.type));
        lines.push(`const s${i} = N[${nested.length - 1}](v${i});`, `if (s${i} === BAD) return BAD;`);
        out.push(`f${i}: s${i}`);
      } else {
        lines.push(`if (!(${SCALARS[f.type]!.check(`v${i}`)})) return BAD;`);
        out.push(`f${i}: v${i}`);
      }
    });
    lines.push(`return { ${out.join(', ')} };`);
    s = new Function('BAD', 'N', `"use strict";\nreturn function snapshot(v) {\n${lines.join('\n')}\n};`)(BAD, nested) as Snapshot;
    snapshots.set(t, s);
  }
  return s;
}

/** A 64-bit integer from koffi: a number only while it is exact. */
export function from64(v: unknown): unknown {
  return typeof v === 'number' && !Number.isSafeInteger(v) ? BigInt(v) : v;
}

/** koffi value → JS value (structs get the user's field names back, tuples become arrays), or
 *  undefined when koffi's value is already the JS one. */
export function decoderOf(t: ValueIR): Decoder | undefined {
  if (isArrayIR(t)) {
    // koffi gives a fresh JS array (the 'Array' hint); only elements that need converting are mapped.
    const el = decoderOf(t.element);
    if (el === undefined) return undefined;
    let d = decoders.get(t);
    if (d === undefined) decoders.set(t, (d = (k) => (k as unknown[]).map((e) => el(e))));
    return d;
  }
  if (isUnionIR(t)) {
    // koffi gives a koffi.Union whose members decode the same bytes on access: every member is
    // read now, into a plain object (only the member the plugin wrote is meaningful).
    let d = decoders.get(t);
    if (d === undefined) {
      const nested: Decoder[] = [];
      const items = t.members.map((m, i) => {
        const conv = decoderOf(m.type);
        const v = conv === undefined ? `k.f${i}` : `N[${nested.push(conv) - 1}](k.f${i})`;
        return m.name === '__proto__' ? `["__proto__"]: ${v}` : `${JSON.stringify(m.name)}: ${v}`;
      });
      d = new Function('N', `"use strict";\nreturn function decode(k) {\nreturn { ${items.join(', ')} };\n};`)(nested) as Decoder;
      decoders.set(t, d);
    }
    return d;
  }
  if (!isStructIR(t)) return is64(t) ? from64 : undefined;
  let d = decoders.get(t);
  if (d === undefined) {
    const nested: Decoder[] = [];
    const items = t.fields.map((f, i) => {
      const conv = decoderOf(f.type);
      const v = conv === undefined ? `k.f${i}` : `N[${nested.push(conv) - 1}](k.f${i})`;
      if (t.tuple) return v;
      // A computed key defines an own property even for '__proto__' (a plain one would set the prototype).
      return f.name === '__proto__' ? `["__proto__"]: ${v}` : `${JSON.stringify(f.name)}: ${v}`;
    });
    const body = t.tuple ? `[${items.join(', ')}]` : `{ ${items.join(', ')} }`;
    d = new Function('N', `"use strict";\nreturn function decode(k) {\nreturn ${body};\n};`)(nested) as Decoder;
    decoders.set(t, d);
  }
  return d;
}

/** A fresh zero of t in koffi form (0, false, null, or a struct of zeros): what an out box starts as. */
export function zeroOf(t: ValueIR): unknown {
  if (isArrayIR(t)) return Array.from({ length: t.length }, () => zeroOf(t.element));
  if (isUnionIR(t)) {
    // The largest member, so that zeros cover the whole union (and not only its first member).
    let best = 0;
    t.members.forEach((m, i) => {
      if (koffi.sizeof(koffiOf(m.type)) > koffi.sizeof(koffiOf(t.members[best]!.type))) best = i;
    });
    return { [`f${best}`]: zeroOf(t.members[best]!.type) };
  }
  if (!isStructIR(t)) return t === 'bool' ? false : t === 'pointer' ? null : 0;
  const out: Record<string, unknown> = {};
  t.fields.forEach((f, i) => (out[`f${i}`] = zeroOf(f.type)));
  return out;
}
