// rustplug (this repository's dist/): the validating wrappers a user gets from open().
import { readFileSync } from 'node:fs';

import { open } from '../../dist/index.js';
import { asyncPaths, root } from './cases.mjs';

export const version = () => JSON.parse(readFileSync(`${root}package.json`, 'utf8')).version;

const point = { struct: { x: 'f64', y: 'f64' } };

export function sync(path) {
  const { add, nop, addf, sum64, point_swap, str_echo } = open(path, {
    add: { parameters: ['i32', 'i32'], result: 'i32' },
    nop: { parameters: [], result: 'void' },
    addf: { parameters: ['f64', 'f64'], result: 'f64' },
    sum64: { parameters: ['buffer'], result: 'u32' },
    point_swap: { parameters: [point], result: point },
    str_echo: { parameters: ['string'], result: 'string' },
  }).symbols;
  return { add, nop, addf, sum64, struct: point_swap, string: str_echo };
}

export function async() {
  const { ready_u64, remote_u64 } = open(asyncPaths.asyncPlugin, {
    ready_u64: { parameters: ['u64'], result: { future: 'u64' } },
    remote_u64: { parameters: ['u64'], result: { future: 'u64' } },
  }).symbols;
  return { ready: (i) => ready_u64(i), woken: (i) => remote_u64(i) };
}
