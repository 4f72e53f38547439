// The README's fenced code blocks, so tests can run what a reader copies. Shared by the TS
// examples test (test/readme-ts.test.ts) and the Rust examples test.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { REPO } from './plugins.js';

export interface CodeBlock {
  /** The info string's first word: 'ts', 'rust', 'toml', 'sh', or '' for a bare fence. */
  lang: string;
  /** The block's text, ending with a newline. */
  code: string;
  /** The README line of the opening fence (1-based). */
  line: number;
  /** The nearest heading above it. */
  heading: string;
}

/** Every fenced block of a Markdown file (default: the README), optionally only some languages. */
export function readmeBlocks(langs?: readonly string[], file = join(REPO, 'README.md')): CodeBlock[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const out: CodeBlock[] = [];
  let heading = '';
  for (let i = 0; i < lines.length; i++) {
    const h = /^#{1,6} (.*)$/.exec(lines[i]!);
    if (h) heading = h[1]!;
    const open = /^(`{3,})\s*([\w+-]*)/.exec(lines[i]!);
    if (!open) continue;
    const fence = open[1]!;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !lines[i]!.startsWith(fence); i++) body.push(lines[i]!);
    if (i >= lines.length) throw new Error(`${file}:${start + 1}: unterminated code block`);
    const lang = open[2]!.toLowerCase();
    if (!langs || langs.includes(lang)) out.push({ lang, code: `${body.join('\n')}\n`, line: start + 1, heading });
  }
  return out;
}
