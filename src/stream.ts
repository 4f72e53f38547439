// Rust streams (FfiStream<T>, docs/abi.md) as async iterators. The native runtime owns the stream
// task and polls it only while a next() is waiting (pull-based backpressure); this side orders
// concurrent next() calls, wires the AbortSignal, and ends the iterator exactly once.
import { AbortError, watchSignal, unwatchSignal } from './future.js';
import { addon } from './native.js';
import type { NativeFutureSymbol } from './native.js';

/** What the generated wrapper passes after starting a stream (or failing to). */
export interface StreamStart {
  id: number | undefined;
  error?: unknown;
  signal: AbortSignal | undefined;
  /** Runs once when the stream is over (the call's `{ callback }` arguments are released). */
  onEnd?: () => void;
}

const DONE: IteratorResult<never> = Object.freeze({ value: undefined, done: true }) as IteratorResult<never>;

/**
 * The iterator a `{ stream: T }` symbol returns. `for await` pulls items; `break`, `return()`,
 * an abort or the library's `close()` drop the stream (once); after `Ready(None)` or a panic it
 * is never polled again.
 */
export class PluginStream<T> implements AsyncIterableIterator<T> {
  #id: number | undefined;
  #error: unknown;
  #failed: boolean;
  #signal: AbortSignal | undefined;
  #onEnd: (() => void) | undefined;
  /** Settles when every next() asked so far has settled: next() calls run one after another. */
  #tail: Promise<unknown> = Promise.resolve();

  constructor(start: StreamStart) {
    this.#id = start.id;
    this.#failed = 'error' in start;
    this.#error = start.error;
    this.#signal = start.signal;
    this.#onEnd = start.onEnd;
    if (this.#id !== undefined && this.#signal !== undefined) watchSignal(this.#signal, this.#id);
  }

  next(): Promise<IteratorResult<T>> {
    const pull = () => this.#pull();
    const p = this.#tail.then(pull, pull);
    this.#tail = p.then(
      () => {},
      () => {},
    );
    return p;
  }

  async #pull(): Promise<IteratorResult<T>> {
    if (this.#failed) {
      this.#failed = false;
      throw await this.#error;  // the start failed (bad argument, closed library…): reported once
    }
    const id = this.#id;
    if (id === undefined) return DONE;
    const signal = this.#signal;
    if (signal?.aborted) {
      // Aborted while nobody was waiting: the stream is already dropped; say why, once.
      this.#finish();
      throw new AbortError(signal.reason);
    }
    let r: IteratorResult<unknown> | Promise<IteratorResult<unknown>>;
    try {
      r = addon.streamNext(id);
      if (r instanceof Promise) r = await r;
    } catch (e) {
      this.#finish();
      throw e;
    }
    if (r.done) this.#finish();
    return r as IteratorResult<T>;
  }

  /** Drops the stream now; a next() still waiting ends with `{ done: true }`. */
  return(value?: unknown): Promise<IteratorResult<T>> {
    const id = this.#id;
    if (id !== undefined) {
      this.#finish();
      addon.futureCancel(id, undefined, true);
    }
    this.#failed = false;
    return Promise.resolve({ value, done: true } as IteratorResult<T>);
  }

  throw(e?: unknown): Promise<IteratorResult<T>> {
    return this.return().then(() => Promise.reject(e));
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  #finish(): void {
    const id = this.#id;
    if (id === undefined) return;
    this.#id = undefined;
    if (this.#signal !== undefined) unwatchSignal(this.#signal, id);
    const onEnd = this.#onEnd;
    this.#onEnd = undefined;
    onEnd?.();
  }
}

/** Starts a stream through the runtime; errors are kept for the iterator's first next(). */
export function startStream(start: () => number, signal: AbortSignal | undefined, onEnd?: () => void): PluginStream<unknown> {
  const failed = (error: unknown) => {
    onEnd?.();
    return new PluginStream({ id: undefined, error, signal: undefined });
  };
  if (signal?.aborted) return failed(new AbortError(signal.reason));
  let id: number;
  try {
    id = start();
  } catch (e) {
    return failed(e);
  }
  // JS run by the plugin during the call may have aborted the signal.
  if (signal?.aborted) {
    addon.futureCancel(id, new AbortError(signal.reason));
    return failed(new AbortError(signal.reason));
  }
  return new PluginStream({ id, signal, onEnd });
}

/** A stream whose call failed before the plugin ran (the Promise holds the reason). */
export function failedStream(reason: Promise<never>): PluginStream<unknown> {
  reason.catch(() => {});  // reported by the first next(), not as an unhandled rejection
  return new PluginStream({ id: undefined, error: reason, signal: undefined });
}

export type { NativeFutureSymbol };
