// `rustplug call`: a signature written on the command line ('(u32,u64)->future<u64>') becomes a
// rustplug declaration, the shell's words become arguments of the declared types, and the result
// (a value, a future's value, or each item of a stream as it arrives) is printed.

import { readFileSync } from 'node:fs';

import { suggest } from './suggest.js';
import type { Library } from './library.js';
import type { ArrayType, Declarations, ParameterType, ResultType, StructType, SymbolDeclaration, ValueType } from './types.js';

/** A signature or an argument the user wrote is wrong: a usage error (exit 1), one line. */
export class CallUsageError extends Error {}

/**
 * The call failed with an error that is not one of rustplug's typed errors (e.g. the result is
 * not what --sig declared); `cause` is the original error.
 */
export class CallFailedError extends Error {
  readonly code = 'ERR_CALL_FAILED' as const;
  readonly hint = "check --sig against the plugin's source: a signature that does not match the function is undefined behaviour";
  constructor(symbol: string, cause: unknown) {
    super(`${symbol}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
  override get name(): string {
    return 'CallFailedError';
  }
}

// ---- signatures ---------------------------------------------------------------------------------

const SCALARS = ['i8', 'u8', 'i16', 'u16', 'i32', 'u32', 'i64', 'u64', 'isize', 'usize', 'f32', 'f64', 'bool', 'pointer', 'function'] as const;
type Scalar = (typeof SCALARS)[number];
const isScalar = (s: string): s is Scalar => (SCALARS as readonly string[]).includes(s);
const PARAMETER_NAMES = [...SCALARS, 'string', 'buffer'];
const RESULT_NAMES = [...SCALARS.filter((s) => s !== 'function'), 'string', 'void', 'future', 'stream'];

/** What C and Rust spellings a shell user may try map to. */
const ALIASES: Record<string, string> = {
  int: 'i32', 'unsigned': 'u32', uint: 'u32', long: 'i64', ulong: 'u64', char: 'i8', uchar: 'u8', short: 'i16', ushort: 'u16',
  float: 'f32', double: 'f64', size_t: 'usize', ssize_t: 'isize', int8_t: 'i8', uint8_t: 'u8', int16_t: 'i16', uint16_t: 'u16',
  int32_t: 'i32', uint32_t: 'u32', int64_t: 'i64', uint64_t: 'u64', c_int: 'i32', c_uint: 'u32', c_long: 'i64', c_ulong: 'u64',
  c_double: 'f64', c_float: 'f32', c_char: 'i8', str: 'string', cstr: 'string', CStr: 'string', String: 'string', ptr: 'pointer',
};

/** The parsed signature: the declaration for open() and what `call` needs to read and print. */
export interface CallSignature {
  parameters: ParameterType[];
  result: SymbolDeclaration['result'];
  /** 'sync', or how the result arrives. */
  mode: 'sync' | 'future' | 'stream';
  /** The value type of the result (inside future<>/stream<>). */
  value: ResultType;
}

class SigParser {
  #pos = 0;
  readonly #text: string;
  constructor(text: string) {
    this.#text = text;
  }

  fail(what: string, at = this.#pos): never {
    throw new CallUsageError(`--sig '${this.#text}': ${what} at column ${at + 1}`);
  }

  #skip(): void {
    while (this.#pos < this.#text.length && /\s/.test(this.#text[this.#pos]!)) this.#pos++;
  }

  peek(s: string): boolean {
    this.#skip();
    return this.#text.startsWith(s, this.#pos);
  }

  eat(s: string): boolean {
    if (!this.peek(s)) return false;
    this.#pos += s.length;
    return true;
  }

  expect(s: string, after: string): void {
    if (!this.eat(s)) this.fail(`expected '${s}' ${after}${this.atEnd() ? ', found the end' : `, found '${this.#text.slice(this.#pos, this.#pos + 8)}'`}`);
  }

  /** Where the next token starts. */
  here(): number {
    this.#skip();
    return this.#pos;
  }

  atEnd(): boolean {
    this.#skip();
    return this.#pos >= this.#text.length;
  }

  word(): { word: string; at: number } {
    this.#skip();
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.#text.slice(this.#pos));
    if (!m) this.fail(this.atEnd() ? 'expected a type, found the end' : `expected a type, found '${this.#text[this.#pos]}'`);
    const at = this.#pos;
    this.#pos += m[0].length;
    return { word: m[0], at };
  }

  integer(): number {
    this.#skip();
    const m = /^\d+/.exec(this.#text.slice(this.#pos));
    if (!m) this.fail('expected an array length');
    this.#pos += m[0].length;
    return Number(m[0]);
  }

  unknown(word: string, at: number, names: readonly string[], where: string): never {
    const alias = Object.hasOwn(ALIASES, word) ? ALIASES[word] : undefined;
    const near = alias ? [alias] : suggest(word, names);
    this.fail(`unknown ${where} type '${word}'${near.length ? ` (did you mean ${near.map((n) => `'${n}'`).join(' or ')}?)` : ` (types: ${names.join(', ')})`}`, at);
  }

  /** A struct `{T, T}` / `{x: T, y: T}` or an array `[T; N]`; else null. */
  compound(): StructType | ArrayType | null {
    if (this.eat('[')) {
      const of = this.value();
      this.expect(';', "between an array's element type and its length ([u8; 4])");
      const length = this.integer();
      this.expect(']', 'after the array length');
      return { array: of, length };
    }
    if (!this.eat('{')) return null;
    const named: Record<string, ValueType> = {};
    const tuple: ValueType[] = [];
    let kind: 'named' | 'tuple' | undefined;
    if (!this.eat('}')) {
      do {
        const compound = this.compound();
        let type: ValueType;
        if (compound) {
          if (kind === 'named') this.fail('a struct has named fields or none, not both');
          kind = 'tuple';
          type = compound;
        } else {
          const { word, at } = this.word();
          if (this.eat(':')) {
            if (kind === 'tuple') this.fail('a struct has named fields or none, not both', at);
            kind = 'named';
            if (Object.hasOwn(named, word)) this.fail(`field '${word}' appears twice`, at);
            named[word] = this.value();
            continue;
          }
          if (kind === 'named') this.fail(`expected ':' after field name '${word}'`);
          kind = 'tuple';
          type = this.scalarValue(word, at);
        }
        tuple.push(type);
      } while (this.eat(','));
      this.expect('}', 'at the end of a struct');
    }
    return { struct: kind === 'named' ? named : tuple };
  }

  scalarValue(word: string, at: number): ValueType {
    if (isScalar(word) && word !== 'function') return word;
    return this.unknown(word, at, SCALARS.filter((s) => s !== 'function'), 'field');
  }

  /** A type a struct field, array element or pointee may have. */
  value(): ValueType {
    const c = this.compound();
    if (c) return c;
    const { word, at } = this.word();
    return this.scalarValue(word, at);
  }

  parameter(): ParameterType {
    const c = this.compound();
    if (c) return c;
    const { word, at } = this.word();
    if (isScalar(word) || word === 'string' || word === 'buffer') return word;
    if (word === 'void') this.fail("'void' is a result type: write () for no parameters", at);
    if (word === 'future' || word === 'stream') this.fail(`${word}<T> is a result type`, at);
    return this.unknown(word, at, PARAMETER_NAMES, 'parameter');
  }

  /** A result: a value type, 'string', 'void' or '()'. */
  resultValue(inside?: string): ResultType | 'void' {
    if (this.eat('()')) return 'void';
    const start = this.here();
    const c = this.compound();
    if (c !== null) {
      if ('array' in c) this.fail('an array cannot be a result (C returns no arrays): wrap it in a struct {[T; N]}', start);
      return c;
    }
    const { word, at } = this.word();
    if (word === 'void' || word === 'string' || (isScalar(word) && word !== 'function')) return word;
    if (word === 'function') return 'pointer';
    if ((word === 'future' || word === 'stream') && inside) this.fail(`${word}<…> inside ${inside}<…> is not a type rustplug knows`, at);
    if (word === 'buffer') this.fail("'buffer' is a parameter type: a result that points to bytes is a 'pointer'", at);
    return this.unknown(word, at, RESULT_NAMES, 'result');
  }
}

/** Parses `(T, …) -> R`, where R may be `future<T>` or `stream<T>`; no `-> R` means void. */
export function parseSignature(text: string): CallSignature {
  const p = new SigParser(text);
  p.expect('(', 'at the start (e.g. (i32,i32)->i32)');
  const parameters: ParameterType[] = [];
  if (!p.eat(')')) {
    do parameters.push(p.parameter());
    while (p.eat(','));
    p.expect(')', 'after the parameters');
  }
  let mode: CallSignature['mode'] = 'sync';
  let value: ResultType = 'void';
  if (p.eat('->')) {
    const save = p.peek('future') || p.peek('stream');
    if (save) {
      const { word } = p.word();
      mode = word as 'future' | 'stream';
      p.expect('<', `after '${word}' (${word}<u64>)`);
      value = p.resultValue(word);
      p.expect('>', `to close ${word}<…>`);
    } else {
      value = p.resultValue();
    }
  }
  if (!p.atEnd()) p.fail('unexpected text after the signature');
  const result = mode === 'future' ? { future: value } : mode === 'stream' ? { stream: value } : value;
  return { parameters, result, mode, value };
}

/** A signature written back, e.g. for messages: (u32, u64) -> future<u64>. */
export function formatType(t: ParameterType | SymbolDeclaration['result']): string {
  if (typeof t === 'string') return t;
  if ('struct' in t) {
    const s = t.struct;
    return Array.isArray(s) ? `{${s.map(formatType).join(', ')}}` : `{${Object.entries(s).map(([k, v]) => `${k}: ${formatType(v)}`).join(', ')}}`;
  }
  if ('array' in t) return `[${formatType(t.array)}; ${t.length}]`;
  if ('future' in t) return `future<${formatType(t.future)}>`;
  if ('stream' in t) return `stream<${formatType(t.stream)}>`;
  return JSON.stringify(t);
}

// ---- arguments ----------------------------------------------------------------------------------

const INT_RANGES: Record<string, [bigint, bigint]> = {
  i8: [-(2n ** 7n), 2n ** 7n - 1n],
  u8: [0n, 2n ** 8n - 1n],
  i16: [-(2n ** 15n), 2n ** 15n - 1n],
  u16: [0n, 2n ** 16n - 1n],
  i32: [-(2n ** 31n), 2n ** 31n - 1n],
  u32: [0n, 2n ** 32n - 1n],
  i64: [-(2n ** 63n), 2n ** 63n - 1n],
  u64: [0n, 2n ** 64n - 1n],
  isize: [-(2n ** 63n), 2n ** 63n - 1n],
  usize: [0n, 2n ** 64n - 1n],
};

/** An integer written as decimal, 0x hex, 0o octal or 0b binary, with an optional sign and _ separators. */
function parseInteger(text: string): bigint | null {
  const m = /^([+-]?)(0x[0-9a-f][0-9a-f_]*|0o[0-7][0-7_]*|0b[01][01_]*|\d[\d_]*)$/i.exec(text.trim());
  if (!m) return null;
  const v = BigInt(m[2]!.replace(/_/g, ''));
  return m[1] === '-' ? -v : v;
}

/** The argument named the way messages name it: argument 2 (u64). */
const nameOf = (index: number, type: ParameterType | ValueType, path = '') => `argument ${index + 1}${path} (${formatType(type)})`;

/** Converts the shell word for one parameter into what rustplug's call expects. */
export function parseArgument(text: string, type: ParameterType, index: number): unknown {
  const name = nameOf(index, type);
  const bad = (why: string): never => {
    throw new CallUsageError(`${name}: ${why}`);
  };
  if (typeof type === 'string') {
    switch (type) {
      case 'string':
        return text;
      case 'buffer':
        return parseBuffer(text, bad);
      default:
        return parseScalar(text, type, bad);
    }
  }
  if ('struct' in type || 'array' in type) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      bad(`'${text}' is not JSON; write a struct as ${'array' in type || Array.isArray(type.struct) ? 'a JSON array' : 'a JSON object'}, e.g. ${example(type)}`);
    }
    return fromJson(json, type, index, '');
  }
  return bad('this parameter type cannot be given on the command line');
}

function example(type: ValueType): string {
  if (typeof type === 'string') return type === 'bool' ? 'true' : type === 'pointer' ? 'null' : '1';
  if ('union' in type) {
    const [k, v] = Object.entries(type.union)[0]!;
    return `{"${k}":${example(v)}}`;
  }
  if ('array' in type) return `[${Array.from({ length: Math.min(type.length, 3) }, () => example(type.array)).join(',')}${type.length > 3 ? ',…' : ''}]`;
  const s = type.struct;
  return Array.isArray(s) ? `[${s.map(example).join(',')}]` : `{${Object.entries(s).map(([k, v]) => `"${k}":${example(v)}`).join(',')}}`;
}

/** A struct or array argument from its JSON: leaves may be numbers, or strings parsed like words. */
function fromJson(json: unknown, type: ValueType, index: number, path: string): unknown {
  const bad = (why: string): never => {
    throw new CallUsageError(`${nameOf(index, type, path)}: ${why}`);
  };
  if (typeof type === 'string') {
    if (typeof json === 'string') return parseScalar(json, type, bad);
    if (json === null && type === 'pointer') return null;
    if (typeof json === 'boolean' && type === 'bool') return json;
    if (typeof json === 'number') {
      if ((type in INT_RANGES || type === 'pointer') && !Number.isSafeInteger(json)) {
        bad(`${json} is ${Number.isInteger(json) ? 'beyond 2^53 in JSON, where it has lost digits: write it as a string ("18446744073709551615")' : 'not an integer'}`);
      }
      return parseScalar(String(json), type, bad);
    }
    return bad(`expected ${type === 'bool' ? 'true or false' : 'a number'}, got ${JSON.stringify(json)}`);
  }
  if ('union' in type) return bad('a union cannot be given on the command line (the CLI declares no unions)');
  if ('array' in type) {
    if (!Array.isArray(json)) return bad(`expected a JSON array of ${type.length}, got ${JSON.stringify(json)}`);
    if (json.length !== type.length) return bad(`expected ${type.length} elements, got ${json.length}`);
    return json.map((v, i) => fromJson(v, type.array, index, `${path}[${i}]`));
  }
  const s = type.struct;
  if (Array.isArray(s)) {
    if (!Array.isArray(json)) return bad(`expected a JSON array of ${s.length} fields, e.g. ${example(type)}`);
    if (json.length !== s.length) return bad(`expected ${s.length} fields, got ${json.length}`);
    return s.map((t, i) => fromJson(json[i], t, index, `${path}[${i}]`));
  }
  const fields = s as Record<string, ValueType>;
  if (Array.isArray(json)) {
    // The fields in their declared order, as for a tuple struct.
    const names = Object.keys(fields);
    if (json.length !== names.length) return bad(`expected ${names.length} fields (${names.join(', ')}), got ${json.length}`);
    return Object.fromEntries(names.map((k, i) => [k, fromJson(json[i], fields[k]!, index, `${path}.${k}`)]));
  }
  if (typeof json !== 'object' || json === null) return bad(`expected a JSON object or array, e.g. ${example(type)}`);
  const extra = Object.keys(json).filter((k) => !Object.hasOwn(fields, k));
  if (extra.length) bad(`no field ${extra.map((k) => `'${k}'`).join(', ')} (fields: ${Object.keys(fields).join(', ')})`);
  const out: Record<string, unknown> = {};
  for (const [k, t] of Object.entries(fields)) {
    if (!Object.hasOwn(json, k)) bad(`missing field '${k}'`);
    out[k] = fromJson((json as Record<string, unknown>)[k], t, index, `${path}.${k}`);
  }
  return out;
}

function parseScalar(text: string, type: Exclude<ParameterType, object>, bad: (why: string) => never): unknown {
  if (type === 'bool') {
    const t = text.trim().toLowerCase();
    if (t === 'true' || t === '1') return true;
    if (t === 'false' || t === '0') return false;
    return bad(`'${text}' is not true or false`);
  }
  if (type === 'f32' || type === 'f64') {
    const t = text.trim().toLowerCase().replace(/^([+-]?)inf(inity)?$/, '$1Infinity');
    const v = t === 'nan' ? NaN : t === '' ? NaN : Number(t);
    if (Number.isNaN(v) && t !== 'nan') bad(`'${text}' is not a number`);
    return v;
  }
  if (type === 'pointer' || type === 'function') {
    if (/^(null|nullptr|NULL)$/.test(text.trim())) return null;
    const v = parseInteger(text);
    if (v === null) return bad(`'${text}' is not an address: write null, or an integer such as 0x7f0012345678`);
    if (v < 0n || v >= 2n ** 64n) return bad(`${text} is not an address (0 to 2^64-1)`);
    return v === 0n ? null : v;
  }
  if (type === 'string' || type === 'buffer') return text;
  const v = parseInteger(text);
  if (v === null) {
    const asNumber = Number(text);
    return bad(`'${text}' is not ${Number.isFinite(asNumber) && text.trim() !== '' ? 'an integer' : 'a number'}`);
  }
  const [lo, hi] = INT_RANGES[type]!;
  if (v < lo || v > hi) bad(`${text} is out of range (${lo} to ${hi})`);
  // 64-bit values beyond 2^53 travel as bigint; rustplug takes either.
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** A buffer argument: null, hex:<bytes>, @<file>, utf8:<text>, or any other text as its UTF-8 bytes. */
function parseBuffer(text: string, bad: (why: string) => never): Uint8Array | null {
  if (text === 'null') return null;
  if (text.startsWith('hex:')) {
    const hex = text.slice(4).replace(/[\s_:]/g, '');
    if (!/^([0-9a-f]{2})*$/i.test(hex)) bad(`'${text}' is not hex bytes (hex:00ff10…, an even number of digits)`);
    return Uint8Array.from(Buffer.from(hex, 'hex'));
  }
  if (text.startsWith('@')) {
    try {
      return Uint8Array.from(readFileSync(text.slice(1)));
    } catch (e) {
      return bad(`cannot read ${text.slice(1)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  return Uint8Array.from(Buffer.from(text.startsWith('utf8:') ? text.slice(5) : text, 'utf8'));
}

// ---- results ------------------------------------------------------------------------------------

/** A result as JSON: bigints as decimal strings, addresses as 0x hex strings, non-finite floats as strings. */
export function toJson(value: unknown, type: ResultType): string {
  return JSON.stringify(jsonValue(value, type));
}

function jsonValue(value: unknown, type: ResultType | ValueType): unknown {
  if (value === undefined) return null;
  if (typeof type === 'string') {
    if (type === 'pointer') return value === null ? null : `0x${(value as bigint).toString(16)}`;
    if (typeof value === 'bigint') return value.toString();
    if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
    return value;
  }
  if ('array' in type) return (value as unknown[]).map((v) => jsonValue(v, type.array));
  if ('union' in type) return Object.fromEntries(Object.entries(type.union).map(([k, t]) => [k, jsonValue((value as Record<string, unknown>)[k], t)]));
  const s = type.struct;
  if (Array.isArray(s)) return (value as unknown[]).map((v, i) => jsonValue(v, s[i]!));
  const out: Record<string, unknown> = {};
  for (const [k, t] of Object.entries(s as Record<string, ValueType>)) out[k] = jsonValue((value as Record<string, unknown>)[k], t);
  return out;
}

/** A result as a shell user reads it: numbers as written, strings raw, structs as JSON, void as nothing. */
export function toText(value: unknown, type: ResultType | 'void'): string | null {
  if (type === 'void') return null;
  if (type === 'string') return value === null ? 'null' : String(value);
  if (typeof type === 'string') return String(jsonValue(value, type));
  return toJson(value, type);
}

// ---- running ------------------------------------------------------------------------------------

type Write = (s: string) => void;

/** Where `call` writes and what interrupts it. */
export interface CallIO {
  out: Write;
  err: Write;
  /** Show the progress indicator (stderr is a terminal). */
  tty: boolean;
  /** Emits 'SIGINT' (the process, or a stand-in for tests in-process). */
  interrupts: { on(event: 'SIGINT', fn: () => void): unknown; off(event: 'SIGINT', fn: () => void): unknown };
  /**
   * Resolves once `out` can take more (stdout drained). Awaited after each stream item, so an
   * endless stream of ready items neither starves the event loop (signals, writes) nor outruns
   * a slow reader. Default: the next turn of the event loop.
   */
  drained?: () => Promise<void>;
  /** Aborted when nobody reads `out` any more (EPIPE): the call is dropped quietly, exit 0. */
  outputClosed?: AbortSignal;
}

/** What names one symbol from the shell: the library, the symbol, its signature and arguments. */
export interface CallTarget {
  lib: string;
  symbol: string;
  sig: string;
  args: string[];
  free: string | undefined;
  openOptions: { libraryPath?: string[]; allowInsecure?: boolean; integrity?: string };
}

export interface CallRequest extends CallTarget {
  json: boolean;
}

/** Exit status of a call ended by SIGINT, as shells report it (128 + 2). */
export const INTERRUPTED = 130;

/** After a second of waiting, on a terminal: a spinner and the time waited, on stderr, erased when done. */
export class Progress {
  static readonly FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
  #err: Write;
  #enabled: boolean;
  #delayMs: number;
  #timer: NodeJS.Timeout | undefined;
  #started = 0;
  #frame = 0;
  #shown = false;
  #label = '';

  constructor(err: Write, enabled: boolean, delayMs = 1000) {
    this.#err = err;
    this.#enabled = enabled;
    this.#delayMs = delayMs;
  }

  start(label: string): void {
    if (!this.#enabled) return;
    this.stop();
    this.#label = label;
    this.#started = performance.now();
    this.#timer = setTimeout(() => {
      this.#timer = setInterval(() => this.#draw(), 100).unref();
      this.#draw();
    }, this.#delayMs).unref();
  }

  /** What the indicator says from its next frame on, without restarting its delay. */
  relabel(label: string): void {
    this.#label = label;
  }

  #draw(): void {
    const s = ((performance.now() - this.#started) / 1000).toFixed(1);
    const frame = Progress.FRAMES[this.#frame++ % Progress.FRAMES.length];
    this.#err(`\r${frame} ${this.#label}: ${s} s (Ctrl-C cancels)\x1b[K`);
    this.#shown = true;
  }

  stop(): void {
    clearTimeout(this.#timer);
    clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#shown) this.#err('\r\x1b[K');
    this.#shown = false;
  }
}

/** rustplug's own errors as they are; anything else the call threw as a CallFailedError. */
async function typedErrors(): Promise<(e: unknown, symbol: string) => unknown> {
  const { PluginError, PluginArgumentError } = await import('./errors.js');
  return (e, symbol) => (e instanceof PluginError || e instanceof PluginArgumentError ? e : new CallFailedError(symbol, e));
}

const isAbortError = (e: unknown) => typeof e === 'object' && e !== null && (e as { code?: unknown }).code === 'ABORT_ERR';

/** A symbol opened from the shell's words, ready to call with `values`; `lib` is closed by the caller. */
export interface OpenedCall {
  sig: CallSignature;
  /** The declaration open() was given. */
  declaration: SymbolDeclaration;
  /** The arguments, parsed by their declared types. */
  values: unknown[];
  lib: Library<Declarations>;
  fn: (...args: unknown[]) => unknown;
  /** rustplug's own errors as they are; anything else the call threw as a CallFailedError. */
  typed: (e: unknown, symbol: string) => unknown;
}

/**
 * Parses the signature and the arguments (CallUsageError for a wrong one, before anything is
 * loaded), then opens the library with the one declaration, with every check open() makes.
 */
export async function openCall(req: CallTarget): Promise<OpenedCall> {
  const sig = parseSignature(req.sig);
  const n = sig.parameters.length;
  if (req.args.length !== n) {
    throw new CallUsageError(
      `${req.symbol} (${sig.parameters.map(formatType).join(', ')}) takes ${n} argument${n === 1 ? '' : 's'}, got ${req.args.length}`,
    );
  }
  const values = req.args.map((a, i) => parseArgument(a, sig.parameters[i]!, i));
  if (req.free !== undefined && sig.value !== 'string') throw new CallUsageError(`--free applies to a string result; this signature returns ${formatType(sig.result)}`);

  // Loaded here, not at startup: the other commands work without the addon and koffi.
  const { open } = await import('./library.js');
  const { DeclarationError } = await import('./errors.js');
  const typed = await typedErrors();
  const decl: SymbolDeclaration = { parameters: sig.parameters, result: sig.result, ...(req.free !== undefined ? { free: req.free } : {}) };
  let lib: Library<Declarations>;
  try {
    lib = open(req.lib, { [req.symbol]: decl }, req.openOptions);
  } catch (e) {
    // The declaration is what --sig said: an invalid one is a usage error like a bad signature.
    if (e instanceof DeclarationError) throw new CallUsageError(`--sig '${req.sig}': ${e.message}`);
    throw e;
  }
  const fn = lib.symbols[req.symbol] as unknown as (...args: unknown[]) => unknown;
  return { sig, declaration: decl, values, lib, fn, typed };
}

/**
 * Opens the library with the signature's declaration, calls the symbol and prints the result
 * (a stream: each item as it arrives). Resolves to 0, or INTERRUPTED after SIGINT aborted a future
 * or stream (which drops it). Throws CallUsageError for a bad signature or argument, and the
 * library's errors (PluginError, PluginArgumentError) as they are.
 */
export async function runCall(req: CallRequest, io: CallIO): Promise<number> {
  const { sig, values, lib, fn, typed } = await openCall(req);
  const print = (v: unknown) => {
    const text = req.json ? toJson(v, sig.value) : toText(v, sig.value);
    if (text !== null) io.out(`${text}\n`);
  };
  try {
    if (sig.mode === 'sync') {
      let v;
      try {
        v = fn(...values);
      } catch (e) {
        throw typed(e, req.symbol);
      }
      print(v);
      return 0;
    }
    const controller = new AbortController();
    let interrupted = false;
    const onInterrupt = () => {
      interrupted = true;
      // A second Ctrl-C gets Node's default: the process ends at once.
      io.interrupts.off('SIGINT', onInterrupt);
      controller.abort(new Error('interrupted (SIGINT)'));
    };
    io.interrupts.on('SIGINT', onInterrupt);
    const onOutputClosed = () => controller.abort(new Error('output closed'));
    io.outputClosed?.addEventListener('abort', onOutputClosed, { once: true });
    if (io.outputClosed?.aborted) onOutputClosed();
    const progress = new Progress(io.err, io.tty);
    let items = 0;
    try {
      if (sig.mode === 'future') {
        progress.start(`waiting for ${req.symbol}`);
        print(await (fn(...values, { signal: controller.signal }) as Promise<unknown>));
      } else {
        progress.start(`waiting for ${req.symbol}'s first item`);
        const drained = io.drained ?? (() => new Promise<void>((resolve) => setImmediate(resolve)));
        const aborted = new Promise<void>((resolve) => controller.signal.addEventListener('abort', () => resolve(), { once: true }));
        for await (const item of fn(...values, { signal: controller.signal }) as AsyncIterable<unknown>) {
          progress.stop();
          items++;
          print(item);
          // Items that are ready at once arrive in microtasks: let the loop turn (and the reader read).
          await Promise.race([drained(), aborted]);
          progress.start(`waiting for ${req.symbol}'s item ${items + 1}`);
        }
      }
      return 0;
    } catch (e) {
      if (isAbortError(e) && !interrupted && io.outputClosed?.aborted) return 0;  // like `yes | head`
      if (!(interrupted && isAbortError(e))) throw typed(e, req.symbol);
      progress.stop();
      io.err(
        sig.mode === 'future'
          ? `rustplug: interrupted: ${req.symbol}'s future was dropped\n`
          : `rustplug: interrupted after ${items} item${items === 1 ? '' : 's'}: ${req.symbol}'s stream was dropped\n`,
      );
      return INTERRUPTED;
    } finally {
      progress.stop();
      io.interrupts.off('SIGINT', onInterrupt);
      io.outputClosed?.removeEventListener('abort', onOutputClosed);
    }
  } finally {
    closeQuietly(lib);
  }
}

/** Closes a library opened by openCall once its command is done. */
export function closeQuietly(lib: Library<Declarations>): void {
  try {
    lib.close();
  } catch {
    // A module of a sharing set with work of another module pending: nothing to do here.
  }
}
