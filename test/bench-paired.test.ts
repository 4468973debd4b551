// The paired bench's pure part (bench/lib/paired.mjs): which pairs a default
// run measures, how --pairs is read, and how rounds become one figure per pair.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
// @ts-expect-error: a plain .mjs module without declarations
import { WORKLOADS } from '../bench/lib/app.mjs';
// @ts-expect-error: a plain .mjs module without declarations
import { CONTENDERS } from '../bench/lib/contenders.mjs';
// @ts-expect-error: a plain .mjs module without declarations
import { DEFAULT_PAIRS, pairName, pairOrder, pairsTable, parsePairs, sideOf, summarizePairs } from '../bench/lib/paired.mjs';

interface Pair {
  workload: string;
  contender: string;
  reference: string;
  target?: number;
  bound?: string;
}
interface Side {
  requests: number;
  rps: number;
  cpuUsPerReq: number;
  failed: number;
}
interface Row extends Pair {
  pair: string;
  rounds: number;
  ratio: number;
  low: number;
  high: number;
  rpsRatio: number;
  met: boolean | null;
  boundRatio: number;
  failed: number;
}

const pairs = DEFAULT_PAIRS as Pair[];
const known = (CONTENDERS as Array<{ name: string; services?: string[] }>).map((c) => c.name);
const side = (cpuUsPerReq: number, rps = 1e6 / cpuUsPerReq / 2, failed = 0): Side => ({ requests: Math.round(rps * 2), rps, cpuUsPerReq, failed });

describe('the paired bench', () => {
  it('pairs only contenders that exist and need no service (both sides must be CPU-bound)', () => {
    const byName = new Map((CONTENDERS as Array<{ name: string; services?: string[] }>).map((c) => [c.name, c]));
    for (const pair of pairs) {
      for (const name of [pair.contender, pair.reference]) {
        assert.ok(byName.has(name), `${pairName(pair)}: unknown contender ${name}`);
        assert.equal(byName.get(name)?.services, undefined, `${pairName(pair)}: ${name} needs a service`);
      }
      assert.ok((WORKLOADS as string[]).includes(pair.workload));
    }
    assert.equal(new Set(pairs.map(pairName)).size, pairs.length, 'a pair is listed twice');
  });

  it("names in each bound a pair the default run measures, so the bound's figure is from the same run", () => {
    for (const pair of pairs.filter((p) => p.bound !== undefined)) {
      assert.ok(pairs.some((other) => pairName(other) === pair.bound), `${pairName(pair)}: bound ${pair.bound} is not measured`);
    }
  });

  it('covers the in-process targets of issue 14: read and write of each in-process store against its floor, none against bare, new against koa-session', () => {
    const names = new Set(pairs.map(pairName));
    for (const [store, floor] of [
      ['kss-cookie', 'floor-signed'],
      ['kss-sealed', 'floor-sealed'],
      ['kss-map', 'floor-store'],
      ['kss-memory', 'floor-store'],
    ]) {
      for (const workload of ['read', 'write']) assert.ok(names.has(`${workload} ${store}/${floor}`), `${workload} ${store}/${floor}`);
      assert.ok(names.has(`none ${store}/bare`), `none ${store}/bare`);
    }
    assert.ok(names.has('new kss-cookie/koa-session-cookie'));
    assert.ok(names.has('new kss-map/koa-session-map'));
  });

  it('reads --pairs, keeping the target of a default pair, and refuses what it cannot run', () => {
    const parsed = parsePairs('read:kss-map/floor-store, none:kss-cookie/koa-empty-middleware', { contenders: known, workloads: WORKLOADS }) as Pair[];
    assert.deepEqual(parsed.map(pairName), ['read kss-map/floor-store', 'none kss-cookie/koa-empty-middleware']);
    assert.equal(parsed[0]?.target, 0.9);
    assert.equal(parsed[1]?.target, undefined);
    for (const [text, message] of [
      ['read kss-map/floor-store', /not workload:contender\/reference/],
      ['lunch:kss-map/floor-store', /unknown workload "lunch"/],
      ['read:kss-nothing/floor-store', /unknown contender "kss-nothing"/],
      ['read:kss-map/kss-map', /with itself/],
    ] as const) {
      assert.throws(() => parsePairs(text, { contenders: known, workloads: WORKLOADS }), message, text);
    }
  });

  it('reads a contender of the --baseline build as name@baseline, and only with --baseline', () => {
    const parsed = parsePairs('none:kss-cookie/kss-cookie@baseline', { contenders: known, workloads: WORKLOADS, baseline: true }) as Pair[];
    assert.deepEqual(parsed.map(pairName), ['none kss-cookie/kss-cookie@baseline']);
    assert.deepEqual(sideOf('kss-cookie@baseline'), { contender: 'kss-cookie', baseline: true });
    assert.deepEqual(sideOf('kss-cookie'), { contender: 'kss-cookie', baseline: false });
    assert.throws(() => parsePairs('none:kss-cookie/kss-cookie@baseline', { contenders: known, workloads: WORKLOADS }), /needs --baseline/);
    assert.throws(() => parsePairs('none:kss-cookie/kss-nothing@baseline', { contenders: known, workloads: WORKLOADS, baseline: true }), /unknown contender "kss-nothing"/);
  });

  it('gives each pair the median over rounds of reference ÷ contender CPU per request, with its lowest and highest round', () => {
    const pair = pairs.find((p) => pairName(p) === 'read kss-map/floor-store') as Pair;
    // Rounds where the host ran at different speeds: both sides slow down together, the ratio holds.
    const runs = [
      { pair: pairName(pair), round: 1, contender: side(50), reference: side(45) },
      { pair: pairName(pair), round: 2, contender: side(100), reference: side(92) },
      { pair: pairName(pair), round: 3, contender: side(60), reference: side(57) },
      { pair: 'read kss-memory/floor-store', round: 1, contender: side(1), reference: side(1000) },
    ];
    const [row] = summarizePairs([pair], runs) as Row[];
    assert.equal(row?.rounds, 3);
    assert.equal(row?.ratio.toFixed(3), '0.920');
    assert.equal(row?.low.toFixed(3), '0.900');
    assert.equal(row?.high.toFixed(3), '0.950');
    assert.equal(row?.met, true);
    assert.equal(row?.failed, 0);
  });

  it('says a target is missed below its bar, and takes the bound from its own pair in the same run', () => {
    const none = pairs.find((p) => pairName(p) === 'none kss-cookie/bare') as Pair;
    const floor = pairs.find((p) => pairName(p) === 'none koa-state-middleware/bare') as Pair;
    const runs = [
      { pair: pairName(none), round: 1, contender: side(42), reference: side(39, undefined, 0) },
      { pair: pairName(floor), round: 1, contender: side(40), reference: side(39, undefined, 2) },
    ];
    const rows = summarizePairs([none, floor], runs) as Row[];
    assert.equal(rows[0]?.met, false);
    assert.equal(rows[0]?.boundRatio.toFixed(3), (39 / 40).toFixed(3));
    assert.equal(rows[1]?.met, null, 'a reference pair has no target');
    assert.equal(rows[1]?.failed, 2);
    const table = pairsTable(rows) as string;
    assert.match(table, /\| none \| kss-cookie \| bare \| 0\.93 \| 0\.93–0\.93 \|.*\| ≥ 0\.95 \| \*\*no\*\* \| 0\.97 \|/);
  });

  it('gives no figure, and no verdict, for a pair with no runs', () => {
    const [row] = summarizePairs([pairs[0]], []) as Row[];
    assert.equal(row?.rounds, 0);
    assert.ok(Number.isNaN(row?.ratio));
    assert.equal(row?.met, null);
  });

  it('rotates the order of the pairs from round to round', () => {
    const firsts = [1, 2, 3].map((round) => pairName((pairOrder(pairs, round) as Pair[])[0]));
    assert.equal(new Set(firsts).size, 3);
    for (const round of [1, 2, 3, 40]) assert.deepEqual([...(pairOrder(pairs, round) as Pair[])].map(pairName).sort(), pairs.map(pairName).sort());
  });
});
