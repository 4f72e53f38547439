export { open } from './library.js';
export type { Library, LibraryInfo, OpenOptions } from './library.js';
export { AbortError, futureStats } from './future.js';
export * from './errors.js';
export type * from './types.js';
export { sriOf } from './integrity.js';
export { inspect } from './inspect.js';
export type { PluginInfo } from './inspect.js';
export { rustSysrootLibDir } from './preflight.js';
