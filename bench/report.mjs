// Turns one `npm run bench` run (bench/results/latest.json) into Markdown tables and SVG charts.
// No dependencies, no network: the SVG is written by hand from the JSON.
import { SYSTEMS } from './compare/run.mjs';
import { formatNumber } from './common.mjs';

const COLORS = {
  rustplug: '#d9480f',
  koffi: '#1c7ed6',
  napi: '#495057',
  js: '#adb5bd',
  'ffi-rs': '#7048e8',
  'ffi-napi': '#e64980',
  deno: '#0ca678',
  bun: '#f59f00',
};

/** "36.5 ns", "1.2 µs", "14 µs" */
export function ns(x) {
  if (!Number.isFinite(x)) return '—';
  if (x < 10) return `${x.toFixed(2)} ns`;
  if (x < 1000) return `${x.toFixed(1)} ns`;
  if (x < 1e6) return `${(x / 1000).toFixed(x < 1e4 ? 2 : 1)} µs`;
  return `${(x / 1e6).toFixed(2)} ms`;
}
const rd = (x) => (x < 0.1 ? x.toPrecision(2) : x < 100 ? x.toFixed(2) : x.toFixed(0));
const ratio = (s) => (s ? `${rd(s.median)}× [${rd(s.q1)}–${rd(s.q3)}]` : '');
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function cell(c) {
  if (!c) return '—';
  if (!c.ns) return c.note ? `— (${c.note})` : '—';
  return `${ns(c.ns.median)} · ${ratio(c.ratio)}`;
}

export function syncTable(sync, lib) {
  const systems = sync.systems;
  const head = `| ${lib === 'rust' ? 'Rust cdylib (`libbasic.so`)' : 'C library (`libcbench.so`)'} | ${systems.map((s) => SYSTEMS[s].label).join(' | ')} |`;
  const rows = sync.rows.filter((r) => r.lib === lib).map((r) => `| ${r.label} | ${systems.map((s) => cell(r.cells[s])).join(' | ')} |`);
  return [head, `|---|${systems.map(() => '---').join('|')}|`, ...rows].join('\n');
}

export function asyncTable(async) {
  const head = `| Async call of a trivial function | ${async.inFlight.map((n) => `${n.toLocaleString('en-US')} in flight`).join(' | ')} |`;
  const rows = async.rows.map((r) => (r.note ? `| ${r.label} | did not run: ${r.note} ${async.inFlight.slice(1).map(() => '|').join(' ')} |` : `| ${r.label} | ${async.inFlight.map((n) => cell(r.cells[n])).join(' | ')} |`));
  return [head, `|---|${async.inFlight.map(() => '---').join('|')}|`, ...rows].join('\n');
}

export function memoryTable(memory) {
  const b = (x) => (Number.isFinite(x) ? `${formatNumber(x)} B` : '—');
  return [
    '| Pending `never()` futures | Native heap per future, rustplug (malloc − plugin box) | Plugin\'s own box | JS heap per future | RSS per future |',
    '|---|---|---|---|---|',
    ...memory.map((m) =>
      m.error
        ? `| ${m.count.toLocaleString('en-US')} | failed: ${m.error} | | | |`
        : `| ${m.count.toLocaleString('en-US')} | ${b(m.hostNativePerFuture)} | ${b(m.pluginBox)} | ${b(m.jsHeapPerFuture)} | ${b(m.rssPerFuture)} |`,
    ),
  ].join('\n');
}

export function detailTable(details) {
  const rows = details.flatMap((d) => d.table ?? []);
  return ['| Measure | rustplug | Baseline | Ratio |', '|---|---|---|---|', ...rows.map((r) => `| ${r.measure} | ${r.rustplug} | ${r.baseline} | ${r.ratio} |`)].join('\n');
}

export function targetsTable(targets) {
  return ['| Target | Goal | Measured | |', '|---|---|---|---|', ...targets.map((t) => `| ${t.name} | ${t.goal} | ${t.value} | ${t.met ? 'met' : 'not met'} |`)].join('\n');
}

/** Systems that did not run (or are not compared) in a suite, with the reason. */
export function notRun(results) {
  const lines = [];
  for (const [suite, r] of [
    ['sync', results.sync],
    ['async', results.async],
  ]) {
    if (!r) continue;
    for (const [system, reason] of Object.entries(r.failed ?? {})) lines.push(`- ${SYSTEMS[system].label} (${suite}): ${reason}`);
  }
  for (const [name, s] of Object.entries(SYSTEMS)) if (s.async && results.async) lines.push(`- ${s.label} (async): ${s.async}`);
  const unsupported = new Map();
  for (const row of results.sync?.rows ?? []) {
    for (const [system, c] of Object.entries(row.cells)) if (!c.ns && c.note) unsupported.set(`${system}:${row.case}`, `- ${SYSTEMS[system].label}, ${row.label}: ${c.note}`);
  }
  for (const row of results.async?.rows ?? []) {
    for (const [n, c] of Object.entries(row.cells ?? {})) if (!c.ns && c.note) unsupported.set(`${row.key}:${n}`, `- ${row.label}, ${Number(n).toLocaleString('en-US')} in flight: ${c.note}`);
  }
  return [...lines, ...unsupported.values()];
}

export function versionsList(results) {
  const v = { ...(results.sync?.versions ?? {}), ...(results.async?.versions ?? {}) };
  const rt = { ...(results.sync?.runtimes ?? {}), ...(results.async?.runtimes ?? {}) };
  return Object.keys(SYSTEMS)
    .filter((s) => v[s] !== undefined)
    .map((s) => `${SYSTEMS[s].label} ${v[s]} (${rt[s]})`)
    .join('; ');
}

// ---- SVG -------------------------------------------------------------------------------------------

/**
 * A horizontal bar chart on a log scale: `groups` of { label, bars: [{ key, label, value, note }] }.
 * Bar length is the time per call; the text beside it gives the time and the ratio.
 */
export function barChart({ title, subtitle, groups, legend }) {
  const W = 960;
  const left = 250;
  const right = 200;
  const barH = 13;
  const gap = 3;
  const groupGap = 16;
  const top = 74 + 16 * Math.ceil(legend.length / 4);
  const values = groups.flatMap((g) => g.bars.map((b) => b.value)).filter((v) => Number.isFinite(v) && v > 0);
  const lo = 10 ** Math.floor(Math.log10(Math.min(...values)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...values)));
  const x = (v) => left + ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (W - left - right);
  let y = top;
  const parts = [];
  for (const g of groups) {
    const h = g.bars.length * (barH + gap);
    parts.push(`<text x="12" y="${y + h / 2 + 4}" class="g">${esc(g.label)}</text>`);
    for (const b of g.bars) {
      const color = COLORS[b.key] ?? '#868e96';
      if (Number.isFinite(b.value) && b.value > 0) {
        const w = Math.max(1, x(b.value) - left);
        parts.push(`<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${color}"><title>${esc(`${b.label}: ${b.text}`)}</title></rect>`);
        parts.push(`<text x="${(left + w + 4).toFixed(1)}" y="${y + barH - 3}" class="v">${esc(b.text)}</text>`);
      } else {
        parts.push(`<text x="${left + 4}" y="${y + barH - 3}" class="n">${esc(`${b.label}: ${b.note ?? 'did not run'}`)}</text>`);
      }
      y += barH + gap;
    }
    y += groupGap;
  }
  const axisY = y;
  const ticks = [];
  for (let t = lo; t <= hi * 1.0001; t *= 10) {
    ticks.push(`<line x1="${x(t).toFixed(1)}" y1="${top - 6}" x2="${x(t).toFixed(1)}" y2="${axisY - groupGap}" class="grid"/>`);
    const label = t < 1000 ? `${+t.toPrecision(1)} ns` : t < 1e6 ? `${t / 1000} µs` : `${t / 1e6} ms`;
    ticks.push(`<text x="${x(t).toFixed(1)}" y="${axisY + 4}" class="t" text-anchor="middle">${esc(label)}</text>`);
  }
  const legendItems = legend.map((l, i) => {
    const lx = 12 + (i % 4) * 236;
    const ly = 76 + Math.floor(i / 4) * 16;
    return `<rect x="${lx}" y="${ly - 10}" width="11" height="11" fill="${COLORS[l.key] ?? '#868e96'}"/><text x="${lx + 16}" y="${ly}" class="l">${esc(l.label)}</text>`;
  });
  const H = axisY + 28;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif">
<style>.h{font-size:15px;font-weight:600}.s{font-size:11px;fill:#495057}.g{font-size:12px;font-weight:600}.v{font-size:10.5px;fill:#212529}.n{font-size:10.5px;fill:#868e96;font-style:italic}.t{font-size:10px;fill:#495057}.l{font-size:11px}.grid{stroke:#dee2e6;stroke-width:1}</style>
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="12" y="20" class="h">${esc(title)}</text>
${[].concat(subtitle).map((line, i) => `<text x="12" y="${36 + i * 13}" class="s">${esc(line)}</text>`).join('\n')}
${legendItems.join('\n')}
${ticks.join('\n')}
${parts.join('\n')}
</svg>
`;
}

export function syncChart(results) {
  const { sync } = results;
  const groups = sync.rows
    .filter((r) => r.lib === 'rust')
    .map((r) => ({
      label: r.label,
      bars: sync.systems.map((s) => {
        const c = r.cells[s];
        return {
          key: s,
          label: SYSTEMS[s].label,
          value: c?.ns?.median,
          note: c?.note,
          text: c?.ns ? `${ns(c.ns.median)}  ${s === 'rustplug' ? '' : `(${rd(c.ratio.median)}× rustplug)`}` : '',
        };
      }),
    }));
  return barChart({
    title: 'Sync FFI calls into a Rust cdylib: time per call (log scale), lower is better',
    subtitle: [`Median of ${sync.rounds} interleaved rounds, each system in fresh processes, timed by mitata; ratios to rustplug taken round by round.`, `${results.machine}, ${results.date.slice(0, 10)}`],
    groups,
    legend: sync.systems.map((s) => ({ key: s, label: `${SYSTEMS[s].label}${results.sync.versions[s] ? ` ${results.sync.versions[s]}` : ''}` })),
  });
}

export function asyncChart(results) {
  const { async } = results;
  const keyOf = (row) => row.key.split(':')[0];
  const groups = async.inFlight.map((n) => ({
    label: `${n.toLocaleString('en-US')} in flight`,
    bars: async.rows.map((r) => {
      const c = r.cells?.[n];
      return {
        key: keyOf(r),
        label: r.label.replace(/`/g, ''),
        value: c?.ns?.median,
        note: c?.note ?? r.note,
        text: c?.ns ? `${ns(c.ns.median)}  ${r.label.replace(/`/g, '').split(' (')[0]}` : '',
      };
    }),
  }));
  return barChart({
    title: 'Async calls: time per call, amortised over the calls in flight (log scale), lower is better',
    subtitle: [`Median of ${async.rounds} interleaved rounds, each system in fresh processes, timed by mitata.`, `${results.machine}, ${results.date.slice(0, 10)}`],
    groups,
    legend: [...new Set(async.rows.map(keyOf))].map((k) => ({ key: k, label: SYSTEMS[k]?.label ?? k })),
  });
}
