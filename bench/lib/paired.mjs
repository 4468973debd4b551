// Paired runs (bench/paired.mjs): a contender and the reference it is judged
// against served at the same time from one shared core, each with its own load
// generator. Whatever slows the host then slows both in the same seconds, so
// their ratio of CPU time per request holds still where two runs taken one
// after the other swing by 10-30 % on this VM. This module is the pure part:
// which pairs, how rounds become medians, and which issue target each settles.
import { median } from './report.mjs';

/**
 * The pairs a default run measures: each in-process target of issue 14 whose
 * two sides are CPU-bound (a store behind a network round trip is not, and is
 * left to bench/run.mjs). `target` is the bar on the ratio, `bound` names the
 * pair whose figure is the best the format allows, where one applies.
 */
export const DEFAULT_PAIRS = [
  ...['read', 'write'].flatMap((workload) =>
    [
      ['kss-cookie', 'floor-signed'],
      ['kss-sealed', 'floor-sealed'],
      ['kss-map', 'floor-store'],
      ['kss-memory', 'floor-store'],
    ].map(([contender, reference]) => ({ workload, contender, reference, target: 0.9 })),
  ),
  { workload: 'read', contender: 'kss-memory', reference: 'kss-map', target: 0.95 },
  { workload: 'read', contender: 'kss-sealed', reference: 'kss-cookie', target: 1 },
  { workload: 'none', contender: 'koa-empty-middleware', reference: 'bare' },
  { workload: 'none', contender: 'koa-state-middleware', reference: 'bare' },
  ...['kss-cookie', 'kss-sealed', 'kss-map', 'kss-memory'].map((contender) => ({
    workload: 'none',
    contender,
    reference: 'bare',
    target: 0.95,
    bound: 'none koa-state-middleware/bare',
  })),
  { workload: 'new', contender: 'kss-cookie', reference: 'koa-session-cookie', target: 1.2, bound: 'new floor-signed/koa-session-cookie' },
  { workload: 'new', contender: 'kss-map', reference: 'koa-session-map', target: 1.2, bound: 'new floor-store/koa-session-map' },
  { workload: 'new', contender: 'floor-signed', reference: 'koa-session-cookie' },
  { workload: 'new', contender: 'floor-store', reference: 'koa-session-map' },
];

/** A pair's name as `--pairs` spells it: `workload contender/reference`. */
export const pairName = (pair) => `${pair.workload} ${pair.contender}/${pair.reference}`;

/** The suffix of a contender served from the `--baseline` build (a before/after of a change, at the same time). */
export const BASELINE = '@baseline';

/** `kss-cookie@baseline` as { contender: 'kss-cookie', baseline: true }. */
export function sideOf(name) {
  return name.endsWith(BASELINE) ? { contender: name.slice(0, -BASELINE.length), baseline: true } : { contender: name, baseline: false };
}

/**
 * `--pairs read:kss-map/floor-store,none:kss-cookie/bare` as pairs; a pair that is
 * also a default one keeps its target. A name ending in `@baseline` is that
 * contender from the `--baseline` build, allowed only when `baseline` is true.
 * Throws on a malformed or unknown entry.
 */
export function parsePairs(text, { contenders, workloads, baseline = false }) {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const match = /^([a-z-]+):([a-z0-9-]+(?:@baseline)?)\/([a-z0-9-]+(?:@baseline)?)$/.exec(entry);
      if (match === null) throw new Error(`--pairs entry ${JSON.stringify(entry)} is not workload:contender/reference`);
      const [, workload, contender, reference] = match;
      if (!workloads.includes(workload)) throw new Error(`unknown workload ${JSON.stringify(workload)} in --pairs; known: ${workloads.join(', ')}`);
      for (const name of [contender, reference]) {
        const side = sideOf(name);
        if (!contenders.includes(side.contender)) throw new Error(`unknown contender ${JSON.stringify(side.contender)} in --pairs; see node bench/run.mjs --list`);
        if (side.baseline && !baseline) throw new Error(`${JSON.stringify(name)} in --pairs needs --baseline <a dist/esm folder of the build to compare with>`);
      }
      if (contender === reference) throw new Error(`--pairs entry ${JSON.stringify(entry)} pairs a contender with itself`);
      const known = DEFAULT_PAIRS.find((p) => p.workload === workload && p.contender === contender && p.reference === reference);
      return known ?? { workload, contender, reference };
    });
}

/**
 * One figure per pair from its paired runs: the median over rounds of the
 * reference's CPU µs per request ÷ the contender's (the share of the
 * reference's speed the contender keeps; 1 = as cheap), its lowest and
 * highest round, the same for requests/s, and whether the target is met.
 * `runs`: { pair: pairName, round, contender: {requests, rps, cpuUsPerReq, failed}, reference: {…} }.
 */
export function summarizePairs(pairs, runs) {
  const rows = pairs.map((pair) => {
    const mine = runs.filter((run) => run.pair === pairName(pair));
    const ratios = mine.map((run) => run.reference.cpuUsPerReq / run.contender.cpuUsPerReq).filter(Number.isFinite);
    const rpsRatios = mine.map((run) => run.contender.rps / run.reference.rps).filter(Number.isFinite);
    const ratio = median(ratios);
    return {
      pair: pairName(pair),
      ...pair,
      rounds: ratios.length,
      ratio,
      low: ratios.length > 0 ? Math.min(...ratios) : NaN,
      high: ratios.length > 0 ? Math.max(...ratios) : NaN,
      rpsRatio: median(rpsRatios),
      cpuUsPerReq: median(mine.map((run) => run.contender.cpuUsPerReq)),
      referenceCpuUsPerReq: median(mine.map((run) => run.reference.cpuUsPerReq)),
      failed: mine.reduce((sum, run) => sum + run.contender.failed + run.reference.failed, 0),
      met: pair.target === undefined || !Number.isFinite(ratio) ? null : ratio >= pair.target,
    };
  });
  for (const row of rows) {
    const bound = row.bound === undefined ? undefined : rows.find((other) => other.pair === row.bound);
    row.boundRatio = bound?.ratio ?? NaN;
  }
  return rows;
}

const ratio = (value) => (Number.isFinite(value) ? value.toFixed(2) : '–');
const micros = (value) => (Number.isFinite(value) ? value.toFixed(1) : '–');

/** The summary as a markdown table, one row per pair. */
export function pairsTable(rows) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [
    line(['workload', 'contender', 'reference', '× reference (CPU per request)', 'lowest–highest round', '× reference (req/s)', 'CPU µs/req', 'reference µs/req', 'target', 'met', 'bound']),
    line(['---', '---', '---', '---:', '---:', '---:', '---:', '---:', '---:', '---', '---:']),
    ...rows.map((row) =>
      line([
        row.workload,
        row.contender,
        row.reference,
        ratio(row.ratio),
        `${ratio(row.low)}–${ratio(row.high)}`,
        ratio(row.rpsRatio),
        micros(row.cpuUsPerReq),
        micros(row.referenceCpuUsPerReq),
        row.target === undefined ? '' : `≥ ${row.target.toFixed(2)}`,
        row.met === null ? '' : row.met ? 'yes' : '**no**',
        row.bound === undefined ? '' : ratio(row.boundRatio),
      ]),
    ),
  ].join('\n');
}

/**
 * The order of one round's pairs: rotated by the round, so no pair always runs
 * first (just after the servers' start) or last.
 */
export function pairOrder(pairs, round) {
  const shift = (round - 1) % Math.max(pairs.length, 1);
  return [...pairs.slice(shift), ...pairs.slice(0, shift)];
}
