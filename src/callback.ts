// JS functions passed for { function: ... } parameters of a synchronous call. koffi calls them with
// its own values; structs need the same conversions as arguments and results (koffi's members
// are f0, f1, …; see ir.ts), and the callback's struct result goes through a snapshot.
import { PluginArgumentError } from './errors.js';
import { isStructIR } from './ir.js';
import type { CallbackIR } from './ir.js';
import { BAD, decoderOf, snapshotOf } from './snapshot.js';

export type Adapt = (f: Function) => Function;

/** Wraps a user function for koffi when its types need converting, or undefined when none do. */
export function callbackAdapter(cb: CallbackIR, symbol: string, index: number): Adapt | undefined {
  const decode = cb.params.map((t) => (t === 'string' ? undefined : decoderOf(t)));
  const res = cb.result;
  const snapshot = isStructIR(res) ? snapshotOf(res) : undefined;
  if (snapshot === undefined && decode.every((d) => d === undefined)) return undefined;
  return (f) =>
    function (this: unknown, ...args: unknown[]) {
      for (let i = 0; i < args.length; i++) {
        const d = decode[i];
        if (d !== undefined) args[i] = d(args[i]);
      }
      const r: unknown = Reflect.apply(f, this, args);
      if (snapshot === undefined) return r;
      const k = snapshot(r);
      if (k === BAD) throw new PluginArgumentError(symbol, `${symbol}(): the callback passed as parameter ${index} must return a value of ${isStructIR(res) ? res.text : res}`);
      return k;
    };
}
