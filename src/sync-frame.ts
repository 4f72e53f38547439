// The sync fast path. A sync symbol whose arguments and result travel in registers (scalars,
// strings, buffers; a scalar, string or void result) is called by the addon itself
// (native/sync_symbol.cc) instead of koffi: the generated wrapper (call.ts) checks each argument as
// before, writes each scalar into the environment's frame (typed arrays over one ArrayBuffer,
// laid out by the addon), and calls a Node-API function that is passed only the strings and
// buffers; it reads a scalar result back from the frame (a string result is made natively).
// That skips koffi's per-call argument marshalling and result conversion; figures in bench/.
//
// Nesting is safe: the addon loads every argument register before the plugin runs and stores the
// result after it returns, and the wrapper writes right before and reads right after its call, so
// a call made from inside the plugin (a kept callback running JS) may reuse the frame.
import { ABI } from './abi.js';
import { addon } from './native.js';
import type { ParamIR, ResultIR } from './ir.js';

/** Typed-array views of the frame, passed to every generated wrapper of this environment. */
export interface FrameViews {
  readonly I8: Int8Array;
  readonly U8: Uint8Array;
  readonly I16: Int16Array;
  readonly U16: Uint16Array;
  readonly I32: Int32Array;
  readonly U32: Uint32Array;
  readonly F32: Float32Array;
  readonly F64: Float64Array;
  readonly I64: BigInt64Array;
  readonly U64: BigUint64Array;
}

export interface FastCall {
  /** The addon's function for this symbol: takes the string and buffer arguments, in order. */
  readonly call: Function;
  /** Statements that write each scalar argument `a<i>` (already checked) into the frame. */
  readonly writes: readonly string[];
  /** What the wrapper passes to `call`. */
  readonly args: readonly string[];
  /** Statements ending in `return …` that read the result (`r` is what `call` returned). */
  readonly read: readonly string[];
  readonly views: FrameViews;
}

// One frame per module instance, which is one per JS environment (each worker imports its own):
// a frame is used by one thread only. Never handed out, so nothing can detach or transfer it.
let frame: { buffer: ArrayBuffer; views: FrameViews } | undefined;

function frameOf(): { buffer: ArrayBuffer; views: FrameViews } {
  if (frame !== undefined) return frame;
  const buffer = new ArrayBuffer(ABI.syncFrame.size);
  const views: FrameViews = {
    I8: new Int8Array(buffer),
    U8: new Uint8Array(buffer),
    I16: new Int16Array(buffer),
    U16: new Uint16Array(buffer),
    I32: new Int32Array(buffer),
    U32: new Uint32Array(buffer),
    F32: new Float32Array(buffer),
    F64: new Float64Array(buffer),
    I64: new BigInt64Array(buffer),
    U64: new BigUint64Array(buffer),
  };
  return (frame = { buffer, views });
}

const INTEGER_RESULT: Readonly<Record<string, (byte: number) => string>> = {
  i8: (b) => `return I8[${b}];`,
  u8: (b) => `return U8[${b}];`,
  i16: (b) => `return I16[${b / 2}];`,
  u16: (b) => `return U16[${b / 2}];`,
  i32: (b) => `return I32[${b / 4}];`,
  u32: (b) => `return U32[${b / 4}];`,
  // The low byte: Rust's bool is 0 or 1 there, the rest of RAX is undefined.
  bool: (b) => `return U8[${b}] !== 0;`,
};

// How an argument reaches the addon (native/sync_symbol.cc's Passed).
const FROM_FRAME = 0;
const PASSED: Partial<Record<ParamIR['kind'], number>> = { string: 1, buffer: 2 };

/**
 * The fast call for a sync symbol, or undefined when koffi must make it. `free` is the address of
 * the declared `free` for a string result.
 */
export function fastCall(params: readonly ParamIR[], result: ResultIR, address: bigint, free: bigint | undefined): FastCall | undefined {
  if (params.some((p) => p.kind !== 'scalar' && PASSED[p.kind] === undefined)) return undefined;
  const r = result.isString ? 'string' : result.bufferLength !== undefined ? undefined : result.value === undefined ? result.text : result.value;
  if (typeof r !== 'string') return undefined; // structs, unions, { buffer } results
  const classes = params.map((p) => (p.text === 'f64' ? ABI.argClasses.f64 : p.text === 'f32' ? ABI.argClasses.f32 : ABI.argClasses.integer));
  const returns = r === 'f64' ? ABI.syncReturns.f64 : r === 'f32' ? ABI.syncReturns.f32 : r === 'string' ? ABI.syncReturns.string : ABI.syncReturns.word;
  const { words, floats, result: res } = ABI.syncFrame;
  let read: string[];
  const q = res / 4;
  switch (r) {
    case 'string':
      read = ['return r;'];
      break;
    case 'void':
      read = ['return undefined;'];
      break;
    case 'f64':
      read = [`return F64[${res / 8}];`];
      break;
    case 'f32':
      read = [`return F32[${q}];`];
      break;
    case 'i64':
    case 'isize':
      // Numbers for safe integers, bigints beyond (as koffi's path returns them). A product that
      // rounds stays outside the safe range, so the test below never lets an inexact one through.
      read = [`const v = I32[${q + 1}] * 4294967296 + U32[${q}];`, `return v >= -9007199254740991 && v <= 9007199254740991 ? v : I64[${res / 8}];`];
      break;
    case 'u64':
    case 'usize':
      read = [`const v = U32[${q + 1}] * 4294967296 + U32[${q}];`, `return v <= 9007199254740991 ? v : U64[${res / 8}];`];
      break;
    case 'pointer':
    case 'function':
      read = [`const p = U64[${res / 8}];`, `return p === 0n ? null : p;`];
      break;
    default: {
      const narrow = INTEGER_RESULT[r];
      if (narrow === undefined) return undefined;
      read = [narrow(res)];
    }
  }
  const { buffer, views } = frameOf();
  const passed = params.map((p) => PASSED[p.kind] ?? FROM_FRAME);
  const planned = addon.syncSymbol(address, classes, returns, buffer, passed, r === 'string' ? (free ?? null) : null);
  if (planned === null) return undefined;

  const args = params.flatMap((p, i) => (PASSED[p.kind] === undefined ? [] : [`a${i}`]));
  const writes = params.flatMap((p, i) => {
    if (PASSED[p.kind] !== undefined) return [];
    const a = `a${i}`;
    const slot = planned.slots[i]!;
    const w = words + 8 * slot; // byte offset of an integer-class argument's register
    const x = floats + 8 * slot; // byte offset of a float argument's register
    switch (p.text) {
      case 'f64':
        return `F64[${x / 8}] = ${a};`;
      case 'f32':
        // The float's bits in the register's low half; the callee ignores the rest.
        return `F32[${x / 4}] = ${a};`;
      case 'bool':
        return `I32[${w / 4}] = ${a} ? 1 : 0;`;
      case 'i64':
      case 'u64':
      case 'isize':
      case 'usize':
        // A safe integer's two 32-bit halves (ToInt32 keeps the low bits of each, two's
        // complement for negatives) without allocating; a bigint as it is (range checked).
        return `if (typeof ${a} === 'number') { I32[${w / 4}] = ${a}; I32[${w / 4 + 1}] = Math.floor(${a} / 4294967296); } else I64[${w / 8}] = ${a};`;
      case 'pointer':
      case 'function':
        return `I64[${w / 8}] = ${a} === null ? 0n : ${a};`;
      default:
        // i8 … u32: the value (range checked) sign- or zero-extended to 32 bits, as the ABI
        // expects of narrow arguments; the register's upper half is the callee's to ignore.
        return `I32[${w / 4}] = ${a};`;
    }
  });

  return { call: planned.call, writes, args, read, views };
}
