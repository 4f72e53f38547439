// How many asynchronous calls are in flight at once in the async comparison (child.mjs, run.mjs).
export const IN_FLIGHT = [1, 1000, 100000];
