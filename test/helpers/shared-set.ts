// The shared-runtime set (rust-fixtures/shared): mod_a and mod_b linking the one copy of tokio
// and of the kit in libexports.so, and their cdylib twins mod_static_a and mod_static_b.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

import { REPO } from './plugins.js';

export const host = /^host: (\S+)$/m.exec(execFileSync('rustc', ['-vV'], { encoding: 'utf8' }))![1]!;
export const sharedDir = join(REPO, 'rust-fixtures', 'target', 'shared', host, 'release');
export const releaseDir = join(REPO, 'rust-fixtures', 'target', 'release');

export const SET = {
  exports: join(sharedDir, 'libexports.so'),
  modA: join(sharedDir, 'libmod_a.so'),
  modB: join(sharedDir, 'libmod_b.so'),
  staticA: join(releaseDir, 'libmod_static_a.so'),
  staticB: join(releaseDir, 'libmod_static_b.so'),
  /** mod_b's source against an exports built with tokio's io-util (another feature set). */
  features: join(REPO, 'rust-fixtures', 'target', 'shared-features', host, 'release', 'libmod_features.so'),
} as const;

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
