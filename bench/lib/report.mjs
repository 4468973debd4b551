// Turns the raw per-round measurements into medians and markdown tables.

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

/**
 * Medians per contender × workload. `runs` holds one entry per measured run:
 * { round, workload, contender, rps, p99Ms, cpuUsPerReq, failed, serverErrors }.
 * Ratios are taken per round (to bare, and to the `peer` koa-session contender)
 * before the median, so each ratio compares runs of the same round.
 */
export function summarize(runs, contenders, workloads) {
  const find = (round, workload, contender) => runs.find((r) => r.round === round && r.workload === workload && r.contender === contender);
  const rows = [];
  for (const workload of workloads) {
    for (const contender of contenders) {
      const mine = runs.filter((r) => r.workload === workload && r.contender === contender.name);
      if (mine.length === 0) continue;
      const ratios = [];
      const cpuRatios = [];
      const peerRatios = [];
      for (const run of mine) {
        const bare = find(run.round, workload, 'bare');
        if (bare) {
          ratios.push(run.rps / bare.rps);
          cpuRatios.push(bare.cpuUsPerReq / run.cpuUsPerReq);
        }
        const peer = contender.peer && find(run.round, workload, contender.peer);
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
    ['workload', 'contender', 'req/s', '× bare', 'p99 ms', 'CPU µs/req', '× bare by CPU', 'failed'],
    rows.map((r) => [
      r.workload,
      r.contender,
      fmt.int(r.rps),
      fmt.ratio(r.ratioToBare),
      fmt.ms(r.p99Ms),
      fmt.int(r.cpuUsPerReq),
      fmt.ratio(r.cpuRatioToBare),
      String(r.failed),
    ]),
    ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r'],
  );
}

/** Ratios to bare Koa, one row per contender, one column per workload (the shape). */
export function ratioMatrix(rows, workloads) {
  const names = [...new Set(rows.map((r) => r.contender))].filter((name) => name !== 'bare');
  return table(
    ['contender (× bare Koa, same round)', ...workloads],
    names.map((name) => [name, ...workloads.map((w) => fmt.ratio(rows.find((r) => r.contender === name && r.workload === w)?.ratioToBare))]),
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

/** What each short contender name in the tables stands for. */
export function legend(contenders) {
  return contenders.map((c) => `- \`${c.name}\`: ${c.label}`).join('\n');
}
