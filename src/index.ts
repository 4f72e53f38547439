export { open } from './library.js';
export type { Library, LibraryInfo, OpenOptions } from './library.js';
export { AbortError, futureStats } from './future.js';
export * from './errors.js';
export type * from './types.js';
