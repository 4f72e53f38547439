// The declaration language (after Deno.dlopen) and the TypeScript types inferred from it.

/** Integers that always fit a JS number. */
export type SmallIntType = 'i8' | 'u8' | 'i16' | 'u16' | 'i32' | 'u32';
/** 64-bit integers: passed as number or bigint; returned as number when |v| ≤ 2^53−1, else bigint. */
export type BigIntType = 'i64' | 'u64' | 'isize' | 'usize';
export type FloatType = 'f32' | 'f64';
export type PrimitiveType = SmallIntType | BigIntType | FloatType | 'bool' | 'pointer' | 'function';

/** A `repr(C)` struct: a tuple of fields (JS arrays) or named fields (JS objects), in C order. */
export interface StructType {
  // `readonly []` in each list type makes TypeScript infer array literals as tuples (with
  // `satisfies Declarations` or inline in open()), so no `as const` is needed.
  readonly struct: readonly [] | readonly ValueType[] | { readonly [field: string]: ValueType };
}
/** A fixed-length array `[T; N]`: a struct field or pointee; as a parameter it is passed as a pointer to a copy (as C passes arrays). */
export interface ArrayType {
  readonly array: ValueType;
  readonly length: number;
}
/** A C union of named members sharing the same bytes: JS passes exactly one member; JS gets every member decoded from the bytes. */
export interface UnionType {
  readonly union: { readonly [member: string]: ValueType };
}
/** A value type: anything that can be a struct field or a pointee; all but arrays also by-value parameters and results. */
export type ValueType = SmallIntType | BigIntType | FloatType | 'bool' | 'pointer' | StructType | UnionType | ArrayType;

/** `*const T` / `*mut T` to a struct or scalar: JS passes the value; it is copied in for the call. */
export interface PointerToType {
  readonly pointer: ValueType;
}
/** `*mut T` out-parameter: JS passes a box `{}`; after the call `box.value` holds what the plugin wrote. */
export interface OutType {
  readonly out: ValueType;
}
/** `*mut T` in/out parameter: `box.value` is copied in, and read back after the call. */
export interface InOutType {
  readonly inout: ValueType;
}
/** An `extern "C" fn` the plugin calls back during the call. JS passes a function. */
export interface CallbackType {
  readonly function: { readonly parameters: readonly [] | readonly ParameterType[]; readonly result: ResultType };
}

/** A scalar a callback that the plugin keeps passes or returns. */
export type CallbackScalar = SmallIntType | BigIntType | FloatType | 'bool' | 'pointer';

/**
 * A JS function the plugin may keep and call from any thread until the call ends (futures and
 * streams only). With `result: { future: T }` the plugin gets an `FfiFuture<JsResult<T>>` the
 * returned Promise settles; a `void` result from another thread is queued; another result makes
 * the calling thread wait until JS has run.
 */
export interface JsCallbackType {
  readonly callback: {
    readonly parameters: readonly (CallbackScalar | 'string')[];
    readonly result: CallbackScalar | 'void' | { readonly future: CallbackScalar | 'void' | 'string' };
  };
}

export type ParameterType =
  | PrimitiveType
  | 'buffer'
  | 'string'
  | StructType
  | UnionType
  | ArrayType
  | PointerToType
  | OutType
  | InOutType
  | CallbackType
  | JsCallbackType;

export type ResultType = Exclude<ValueType, ArrayType> | 'void' | 'string';

/**
 * A pointer result copied into a Buffer (null for a null pointer; freed by `free` if declared). Its byte
 * length is parameter `lengthFrom`: an integer the caller passes, or an `{ out: integer }` the plugin fills
 * (`uint8_t *get(size_t *len)`). Synchronous calls only.
 */
export interface BufferResultType {
  readonly buffer: { readonly lengthFrom: number };
}

/** An `FfiFuture<T>` / `LocalFfiFuture<T>` result: the call returns a Promise of T. */
export interface FutureType {
  readonly future: ResultType;
}

/** What a `{ stream: T }` call returns: `for await` pulls items; `return()` drops the stream. */
export interface StreamIterator<T> extends AsyncIterableIterator<T> {
  return(value?: unknown): Promise<IteratorResult<T>>;
  throw(e?: unknown): Promise<IteratorResult<T>>;
}

/** An `FfiStream<T>` result (docs/abi.md): the call returns an async iterator of T. */
export interface StreamType {
  readonly stream: ResultType;
}

export interface SymbolDeclaration {
  readonly parameters: readonly [] | readonly ParameterType[];
  readonly result: ResultType | BufferResultType | FutureType | StreamType;
  /** The exported name, when it differs from the declaration's key. */
  readonly name?: string;
  /** For a `string` result: the plugin's export that frees it (`extern "C" fn(*mut c_char)`). Without it the string is borrowed and never freed. */
  readonly free?: string;
  /** A missing optional symbol is `null` in `lib.symbols` instead of an error. */
  readonly optional?: boolean;
  /** Futures only: whether a pending future keeps the event loop alive (default: the library's `ref`, true). */
  readonly ref?: boolean;
}

export type Declarations = { readonly [name: string]: SymbolDeclaration };

/** The trailing options argument of an async call. */
export interface CallOptions {
  /** Aborting drops the pending future and rejects with an AbortError carrying `signal.reason`. */
  signal?: AbortSignal;
  /** Whether this pending call keeps the event loop alive (overrides the declaration and library). */
  ref?: boolean;
}

/** The box of an out/inout parameter. */
export interface OutBox<T> {
  value?: T;
}

// ---- inference --------------------------------------------------------------------------------

export type ResultValue<T> = T extends 'void'
  ? void
  : T extends SmallIntType | FloatType
    ? number
    : T extends BigIntType
      ? number | bigint
      : T extends 'bool'
        ? boolean
        : T extends 'pointer' | 'function'
          ? bigint | null
          : T extends 'string'
            ? string | null
            : T extends { readonly struct: infer F }
              ? StructValue<F>
              : T extends { readonly union: infer F }
                ? { -readonly [K in keyof F]: ResultValue<F[K]> }
                : T extends { readonly array: infer E }
                  ? ResultValue<E>[]
                  : T extends { readonly buffer: unknown }
                    ? Buffer | null
                    : never;

export type StructValue<F> = F extends readonly unknown[]
  ? { -readonly [K in keyof F]: ResultValue<F[K]> }
  : { -readonly [K in keyof F]: ResultValue<F[K]> };

/** What JS passes for a value type (scalar or struct field). */
export type ValueInput<T> = T extends SmallIntType | FloatType
  ? number
  : T extends BigIntType
    ? number | bigint
    : T extends 'bool'
      ? boolean
      : T extends 'pointer'
        ? bigint | null
        : T extends { readonly struct: infer F }
          ? { [K in keyof F]: ValueInput<F[K]> }
          : T extends { readonly union: infer F }
            ? UnionInput<F>
          : T extends { readonly array: infer E }
            ? readonly ValueInput<E>[] | (E extends SmallIntType | FloatType ? Exclude<ArrayBufferView, DataView> : never)
            : never;

/** Exactly one member of a union set (the others absent or undefined). */
export type UnionInput<F> = {
  [K in keyof F]: { [P in K]: ValueInput<F[K]> } & { [P in Exclude<keyof F, K>]?: undefined };
}[keyof F];

export type ParameterValue<T> = T extends ValueType
  ? ValueInput<T>
  : T extends 'function'
    ? bigint | null
    : T extends 'buffer'
      ? ArrayBufferView | ArrayBuffer | null
      : T extends 'string'
        ? string
        : T extends { readonly pointer: infer U }
          ? ValueInput<U>
          : T extends { readonly inout: infer U extends UnionType }
            ? // A union box goes in with one member set and comes back with every member.
              OutBox<ResultValue<U>> | { value: ValueInput<U> }
          : T extends { readonly out: infer U } | { readonly inout: infer U }
            ? OutBox<ResultValue<U>>
            : T extends { readonly function: { readonly parameters: infer P; readonly result: infer R } }
              ? ((...args: CallbackArgs<P>) => ResultValue<R>) | bigint | null
              : T extends { readonly callback: { readonly parameters: infer P; readonly result: infer R } }
                ? (...args: CallbackArgs<P>) => JsCallbackResult<R>
                : never;

/** What a kept callback returns: T (or a Promise of it, for `{ future: T }`). */
export type JsCallbackResult<R> = R extends { readonly future: infer T } ? ResultValue<T> | PromiseLike<ResultValue<T>> : ResultValue<R>;

export type CallbackArgs<P> = P extends readonly unknown[] ? { -readonly [K in keyof P]: ResultValue<P[K]> } : never;

type ParameterValues<P extends readonly unknown[]> = { -readonly [K in keyof P]: ParameterValue<P[K]> };

/** The JS function a declaration turns into. */
export type SymbolFunction<D extends SymbolDeclaration> =
  // The wide SymbolDeclaration (a declaration TypeScript could not read literally, e.g. a variable
  // whose strings widened to `string`): an untyped function instead of an endless instantiation,
  // so the one error shown is the declaration's own ("'string' is not assignable to ...").
  SymbolDeclaration extends D ? (...args: any[]) => any : FunctionOf<D['parameters'], D['result']>;

type FunctionOf<P extends readonly unknown[], R> = R extends { readonly future: infer T }
  ? (...args: [...ParameterValues<P>, options?: CallOptions]) => Promise<ResultValue<T>>
  : R extends { readonly stream: infer T }
    ? (...args: [...ParameterValues<P>, options?: CallOptions]) => StreamIterator<ResultValue<T>>
    : (...args: ParameterValues<P>) => ResultValue<R>;

export type Symbols<D extends Declarations> = {
  readonly [K in keyof D]: D[K]['optional'] extends true ? SymbolFunction<D[K]> | null : SymbolFunction<D[K]>;
};
