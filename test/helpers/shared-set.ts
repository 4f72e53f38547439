// The shared-runtime set (rust-fixtures/shared): mod_a and mod_b linking the one copy of tokio
// and of the kit in libexports.so, and their cdylib twins mod_static_a and mod_static_b.
import { dirname } from 'node:path';

import { FIXTURES } from './fixtures.js';

export const SET = {
  exports: FIXTURES.exports,
  modA: FIXTURES.mod_a,
  modB: FIXTURES.mod_b,
  staticA: FIXTURES.mod_static_a,
  staticB: FIXTURES.mod_static_b,
  /** mod_b's source against an exports built with tokio's io-util (another feature set). */
  features: FIXTURES.mod_features,
} as const;

/** Where cargo put the set: the search path that finds libexports.so for mod_a and mod_b. */
export const sharedDir = dirname(SET.exports);

export const modADecls = {
  mod_a_bump: { parameters: ['u64'], result: 'u64' },
  mod_a_start_runtime: { parameters: ['u32'], result: 'bool' },
  mod_a_enter: { parameters: [], result: 'bool' },
  mod_a_exit: { parameters: [], result: 'bool' },
  mod_a_task_thread: { parameters: ['u32'], result: { future: 'u64' } },
  mod_a_work: { parameters: ['u32', 'u32'], result: { future: 'u64' } },
  mod_a_detached: { parameters: ['u32', 'u64'], result: 'bool' },
} as const;

export const modBDecls = {
  mod_b_bump: { parameters: ['u64'], result: 'u64' },
  mod_b_has_runtime: { parameters: [], result: 'bool' },
  mod_b_task_thread: { parameters: ['u32'], result: { future: 'u64' } },
  mod_b_work: { parameters: ['u32', 'u32'], result: { future: 'u64' } },
  mod_b_spawn_here: { parameters: ['u32'], result: { future: 'u64' } },
} as const;
