/** Compiles src/ into dist/ when stale; `who` names the caller in messages. Throws when dist/ stays stale. */
export function freshDist(who: string): void;
