// "Did you mean ...?" for symbol names.

/**
 * Damerau-Levenshtein distance (optimal string alignment: insertions, deletions,
 * substitutions and transpositions of adjacent characters each cost 1).
 */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  if (a.length === 0) return b.length;
  if (b.length === 0) return a.length;
  const n = b.length;
  let prev2 = new Array<number>(n + 1).fill(0);
  let prev = Array.from({ length: n + 1 }, (_, j) => j);
  let cur = new Array<number>(n + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    for (let j = 1; j <= n; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, prev2[j - 2]! + 1);
      cur[j] = d;
    }
    [prev2, prev, cur] = [prev, cur, prev2];
  }
  return prev[n]!;
}

/**
 * Names among `candidates` close to `name`, best first, at most `max`:
 * those within an edit distance of max(2, ⌊len/3⌋) (ignoring case), plus those that contain
 * `name` or are contained in it (prefix matches rank before other substring matches).
 * Ties are broken by exact-case distance, then alphabetically.
 */
export function suggest(name: string, candidates: Iterable<string>, max = 3): string[] {
  if (max <= 0 || name.length === 0) return [];
  const lname = name.toLowerCase();
  const limit = Math.max(2, Math.floor(name.length / 3));
  const scored: { c: string; d: number; sub: number; far: number }[] = [];
  const seen = new Set<string>();
  for (const c of candidates) {
    if (seen.has(c) || c === name) continue;
    seen.add(c);
    const lc = c.toLowerCase();
    const d = editDistance(lname, lc);
    // 0: no substring relation; 1: prefix either way; 2: other substring.
    const sub =
      lc.length > 0 && (lc.startsWith(lname) || lname.startsWith(lc))
        ? 1
        : lc.length > 0 && (lc.includes(lname) || lname.includes(lc))
          ? 2
          : 0;
    // Very short candidates contained in a long name are noise (e.g. 'a' in 'add_async').
    const meaningfulSub = sub !== 0 && Math.min(lc.length, lname.length) >= (sub === 1 ? 2 : 3);
    if (d <= limit || meaningfulSub) scored.push({ c, d, sub: meaningfulSub ? sub : 0, far: d <= limit ? 0 : 1 });
  }
  scored.sort(
    (x, y) =>
      x.far - y.far ||
      x.d - y.d ||
      (x.sub || 3) - (y.sub || 3) ||
      editDistance(name, x.c) - editDistance(name, y.c) ||
      (x.c < y.c ? -1 : x.c > y.c ? 1 : 0),
  );
  return scored.slice(0, max).map((s) => s.c);
}
