// Turns the raw per-round measurements into medians and markdown tables.
import { WORKLOAD_SPECS } from './app.mjs';

export function median(values) {
  const sorted = values.filter((value) => Number.isFinite(value)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

const fmt = {
  int: (value) => (Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '–'),
  ratio: (value) => (Number.isFinite(value) ? value.toFixed(2) : '–'),
  ms: (value) => (Number.isFinite(value) ? value.toFixed(value < 10 ? 2 : 1) : '–'),
};

function table(header, rows, align) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(header), line(align.map((a) => (a === 'r' ? '---:' : '---'))), ...rows.map(line)].join('\n');
}

/** The floor that bounds `contender` on `workload`: bare Koa on `none`, where nothing is due; none where no floor applies (login). */
export function floorOf(contender, workload) {
  if (contender.floor === undefined || WORKLOAD_SPECS[workload]?.floors === false) return null;
  return workload === 'none' ? 'bare' : contender.floor;
}

/**
 * The run of `contender` on `workload` in the round of `run` that is nearest to `run` in
 * time (a floor runs once per block, so several times a round: see schedule.mjs); undefined
 * when there is none. Runs recorded before runs had a `seq` pair by round alone.
 */
export function nearestRun(runs, run, workload, contender) {
  let best;
  let bestDistance = Infinity;
  for (const other of runs) {
    if (other.round !== run.round || other.workload !== workload || other.contender !== contender) continue;
    const distance = Math.abs((other.seq ?? 0) - (run.seq ?? 0));
    if (distance < bestDistance) {
      best = other;
      bestDistance = distance;
    }
  }
  return best;
}

/** Of `mine` (runs of one contender), each round's run nearest to a run of `other` in that round, as [run, other's run]. */
function closestPerRound(runs, mine, workload, other) {
  const best = new Map();
  for (const run of mine) {
    const partner = nearestRun(runs, run, workload, other);
    if (partner === undefined) continue;
    const distance = Math.abs((partner.seq ?? 0) - (run.seq ?? 0));
    const kept = best.get(run.round);
    if (kept === undefined || distance < kept.distance) best.set(run.round, { pair: [run, partner], distance });
  }
  return [...best.values()].map((entry) => entry.pair);
}

/**
 * Medians per contender × workload. `runs` holds one entry per measured run:
 * { round, workload, contender, rps, p99Ms, cpuUsPerReq, failed, serverErrors }.
 * Ratios are taken per round (to bare, to the contender's floor, and to the
 * `peer` koa-session contender) before the median, so each ratio compares runs
 * of the same round, each with the nearest run of the other (see nearestRun); a
 * contender with several runs a round is taken against bare Koa by the one nearest it.
 */
export function summarize(runs, contenders, workloads) {
  const rows = [];
  for (const workload of workloads) {
    for (const contender of contenders) {
      const mine = runs.filter((r) => r.workload === workload && r.contender === contender.name);
      if (mine.length === 0) continue;
      const floor = floorOf(contender, workload);
      const ratios = [];
      const cpuRatios = [];
      const floorRatios = [];
      const peerRatios = [];
      // Bare Koa runs once a round (but on none, where it is every contender's floor): a contender
      // that runs several times a round (a floor) is taken against it once, by its run nearest to it.
      for (const [run, bare] of closestPerRound(runs, mine, workload, 'bare')) {
        ratios.push(run.rps / bare.rps);
        cpuRatios.push(bare.cpuUsPerReq / run.cpuUsPerReq);
      }
      for (const run of mine) {
        const floorRun = floor && nearestRun(runs, run, workload, floor);
        if (floorRun) floorRatios.push(run.rps / floorRun.rps);
        const peer = contender.peer && nearestRun(runs, run, workload, contender.peer);
        if (peer) peerRatios.push(run.rps / peer.rps);
      }
      rows.push({
        workload,
        contender: contender.name,
        label: contender.label,
        rounds: mine.length,
        rps: median(mine.map((r) => r.rps)),
        p99Ms: median(mine.map((r) => r.p99Ms)),
        ratioToBare: median(ratios),
        floor,
        ratioToFloor: median(floorRatios),
        cpuUsPerReq: median(mine.map((r) => r.cpuUsPerReq)),
        cpuRatioToBare: median(cpuRatios),
        failed: mine.reduce((sum, r) => sum + r.failed, 0),
        peer: contender.peer ?? null,
        ratioToPeer: median(peerRatios),
      });
    }
  }
  return rows;
}

/** The main table: one row per workload × contender. */
export function throughputTable(rows) {
  return table(
    ['workload', 'contender', 'req/s', '× bare', '× floor', 'floor', 'p99 ms', 'CPU µs/req', '× bare by CPU', 'failed'],
    rows.map((r) => [
      r.workload,
      r.contender,
      fmt.int(r.rps),
      fmt.ratio(r.ratioToBare),
      fmt.ratio(r.ratioToFloor),
      r.floor ?? '',
      fmt.ms(r.p99Ms),
      fmt.int(r.cpuUsPerReq),
      fmt.ratio(r.cpuRatioToBare),
      String(r.failed),
    ]),
    ['l', 'l', 'r', 'r', 'r', 'l', 'r', 'r', 'r', 'r'],
  );
}

/** One figure per contender × workload, `pick(row)`, in the shape: contenders as rows, workloads as columns. */
export function ratioMatrix(rows, workloads, { heading = 'contender (× bare Koa, same round)', pick = (r) => r.ratioToBare, skip = ['bare'] } = {}) {
  const names = [...new Set(rows.map((r) => r.contender))].filter((name) => !skip.includes(name));
  return table(
    [heading, ...workloads],
    names.map((name) => [name, ...workloads.map((w) => fmt.ratio(pick(rows.find((r) => r.contender === name && r.workload === w) ?? {})))]),
    ['l', ...workloads.map(() => 'r')],
  );
}

/** This package's requests/s over koa-session's on the same store kind, per workload. */
export function peerMatrix(rows, workloads) {
  const names = [...new Set(rows.filter((r) => r.peer && Number.isFinite(r.ratioToPeer)).map((r) => r.contender))];
  if (names.length === 0) return null;
  return table(
    ['contender (× its koa-session peer, same round)', 'peer', ...workloads],
    names.map((name) => {
      const mine = rows.filter((r) => r.contender === name);
      return [name, mine[0].peer, ...workloads.map((w) => fmt.ratio(mine.find((r) => r.workload === w)?.ratioToPeer))];
    }),
    ['l', 'l', ...workloads.map(() => 'r')],
  );
}

/**
 * The issue targets (14 and 11) on the many-users workloads, each computed from
 * pairs of runs: `ratio` is the median of a's req/s over b's, `gap` the median
 * of (a − b) / bare, each run of a taken with the nearest run of b (and of bare
 * Koa) in its round. Returns
 * [{ target, figure, met, bound }] (met null when a figure is missing). `bound`
 * is the same figure for the contender's floor where that is not 1: the most
 * that a contender doing only its format's unavoidable work reaches (floor-store
 * against koa-session's Map store, floor-redis against floor-store); '' otherwise.
 */
export function targets(runs) {
  function pairs(workload, a, b, f) {
    const values = [];
    for (const x of runs.filter((r) => r.workload === workload && r.contender === a)) {
      const y = nearestRun(runs, x, workload, b);
      const bare = nearestRun(runs, x, workload, 'bare');
      if (y && bare) values.push(f(x.rps, y.rps, bare.rps));
    }
    return median(values);
  }
  const ratio = (w, a, b) => pairs(w, a, b, (x, y) => x / y);
  const gap = (w, a, b) => pairs(w, a, b, (x, y, bare) => (x - y) / bare);
  const list = [];
  const add = (target, value, ok, show = fmt.ratio, bound = undefined) =>
    list.push({ target, figure: show(value), met: Number.isFinite(value) ? ok(value) : null, bound: bound === undefined ? '' : show(bound) });
  const floorOfName = { 'kss-cookie': 'floor-signed', 'kss-map': 'floor-store', 'kss-redis': 'floor-redis' };
  const signed = (value) => (Number.isFinite(value) ? `${value >= 0 ? '+' : ''}${value.toFixed(2)}` : '–');
  for (const [name, floor] of [['kss-cookie', 'floor-signed'], ['kss-sealed', 'floor-sealed'], ['kss-map', 'floor-store'], ['kss-memory', 'floor-store']]) {
    for (const w of ['read', 'write']) add(`${name} ${w} ≥ 0.90 × ${floor}`, ratio(w, name, floor), (v) => v >= 0.9);
  }
  for (const name of ['kss-cookie', 'kss-sealed', 'kss-map', 'kss-memory']) add(`${name} none ≥ 0.95 × bare`, ratio('none', name, 'bare'), (v) => v >= 0.95);
  for (const [name, peer] of [['kss-cookie', 'koa-session-cookie'], ['kss-map', 'koa-session-map'], ['kss-redis', 'koa-session-redis']]) {
    const floor = floorOfName[name];
    add(`${name} new ≥ 1.2 × ${peer}`, ratio('new', name, peer), (v) => v >= 1.2, fmt.ratio, ratio('new', floor, peer));
    for (const w of ['read', 'write']) add(`${name} ${w} ≥ 1.5 × ${peer}`, ratio(w, name, peer), (v) => v >= 1.5, fmt.ratio, ratio(w, floor, peer));
  }
  add('kss-memory read within 0.05 of kss-map read (× bare, memory − map)', gap('read', 'kss-memory', 'kss-map'), (v) => v >= -0.05, signed);
  for (const w of ['read', 'write']) add(`kss-redis ${w} ≥ 0.9 × kss-map ${w}`, ratio(w, 'kss-redis', 'kss-map'), (v) => v >= 0.9, fmt.ratio, ratio(w, 'floor-redis', 'floor-store'));
  for (const w of ['new', 'write']) add(`kss-sealed ${w} within 0.05 of kss-cookie ${w} (× bare, sealed − signed)`, gap(w, 'kss-sealed', 'kss-cookie'), (v) => v >= -0.05, signed);
  add('kss-sealed read ≥ kss-cookie read', ratio('read', 'kss-sealed', 'kss-cookie'), (v) => v >= 1);
  return list;
}

export function targetsTable(list) {
  return table(
    ['target', 'figure', 'met', "the floors' figure"],
    list.map((t) => [t.target, t.figure, t.met === null ? 'not measured' : t.met ? 'yes' : '**no**', t.bound === '–' ? '' : t.bound]),
    ['l', 'r', 'l', 'r'],
  );
}

/** The concurrent-writers figure: keys kept out of 50 per contender. */
export function writersTable(writers) {
  return table(
    ['contender', 'what', 'keys kept out of 50 (median)', 'min–max', 'runs', 'failed requests'],
    writers.map((w) =>
      w.error
        ? [w.contender, w.label, w.error, '', '', '']
        : [w.contender, w.label, String(median(w.kept)), `${Math.min(...w.kept)}–${Math.max(...w.kept)}`, String(w.kept.length), String(w.failed)],
    ),
    ['l', 'l', 'r', 'r', 'r', 'r'],
  );
}

/**
 * Each store measured on `workload` without and with indexBy (a contender
 * with `unindexed` and its partner): medians of req/s and CPU µs/req of each,
 * and, pairing the two runs of each round, the median of indexed / not
 * indexed req/s (`ratio`) and of the extra CPU µs per request (`extraCpuUs`).
 */
export function indexPairs(runs, contenders, workload) {
  const mine = (name) => runs.filter((r) => r.workload === workload && r.contender === name);
  const pairs = [];
  for (const indexed of contenders.filter((c) => c.unindexed !== undefined)) {
    const plainRuns = mine(indexed.unindexed);
    const indexedRuns = mine(indexed.name);
    if (plainRuns.length === 0 || indexedRuns.length === 0) continue;
    const ratios = [];
    const extra = [];
    for (const run of indexedRuns) {
      const plain = nearestRun(runs, run, workload, indexed.unindexed);
      if (plain === undefined) continue;
      ratios.push(run.rps / plain.rps);
      extra.push(run.cpuUsPerReq - plain.cpuUsPerReq);
    }
    pairs.push({
      workload,
      store: indexed.unindexed,
      indexed: indexed.name,
      rounds: ratios.length,
      rps: median(plainRuns.map((r) => r.rps)),
      rpsIndexed: median(indexedRuns.map((r) => r.rps)),
      ratio: median(ratios),
      cpuUsPerReq: median(plainRuns.map((r) => r.cpuUsPerReq)),
      cpuUsPerReqIndexed: median(indexedRuns.map((r) => r.cpuUsPerReq)),
      extraCpuUs: median(extra),
      failed: [...plainRuns, ...indexedRuns].reduce((sum, r) => sum + r.failed, 0),
    });
  }
  return pairs;
}

/** indexPairs() side by side, one row per store. */
export function indexPairsTable(pairs) {
  const signed = (value) => (Number.isFinite(value) ? `${value >= 0 ? '+' : ''}${Math.round(value)}` : '–');
  return table(
    ['store', 'req/s without indexBy', 'req/s with indexBy', '× (with / without, same round)', 'CPU µs/req without', 'CPU µs/req with', 'extra CPU µs/req', 'failed'],
    pairs.map((p) => [
      p.store,
      fmt.int(p.rps),
      fmt.int(p.rpsIndexed),
      fmt.ratio(p.ratio),
      fmt.int(p.cpuUsPerReq),
      fmt.int(p.cpuUsPerReqIndexed),
      signed(p.extraCpuUs),
      String(p.failed),
    ]),
    ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
  );
}

/** What each short contender name in the tables stands for. */
export function legend(contenders) {
  return contenders.map((c) => `- \`${c.name}\`: ${c.label}`).join('\n');
}
