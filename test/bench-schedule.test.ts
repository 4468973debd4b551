// The bench's round order (bench/lib/schedule.mjs) and its pairing of runs
// (nearestRun in bench/lib/report.mjs): a ratio must compare runs taken close
// together, since the host's speed changes within a round.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
// @ts-expect-error: a plain .mjs module without declarations
import { CONTENDERS } from '../bench/lib/contenders.mjs';
// @ts-expect-error: a plain .mjs module without declarations
import { nearestRun, summarize } from '../bench/lib/report.mjs';
// @ts-expect-error: a plain .mjs module without declarations
import { PER_FLOOR_RUN, roundOrder } from '../bench/lib/schedule.mjs';

interface Contender {
  name: string;
  floor?: string;
  peer?: string;
  unindexed?: string;
  family?: string;
  throughput?: boolean;
  login?: boolean;
}

const all = CONTENDERS as Contender[];
const defaults = all.filter((c) => c.throughput === true);
const names = (order: Array<{ contender: Contender }>) => order.map((entry) => entry.contender.name);

/** Positions of `name` in `order`. */
function positions(order: string[], name: string): number[] {
  return order.flatMap((n, i) => (n === name ? [i] : []));
}

describe('the bench round order', () => {
  for (const workload of ['read', 'write', 'new', 'none']) {
    it(`measures every contender once per round, within ${PER_FLOOR_RUN} runs of its floor, on ${workload}`, () => {
      const contenders = defaults.filter((c) => workload !== 'none' || c.family !== 'reference');
      const floors = new Set(contenders.map((c) => (workload === 'none' ? 'bare' : c.floor)));
      for (const round of [1, 2, 3, 4, 5]) {
        const order = names(roundOrder(contenders.map((contender) => ({ contender })), workload, round));
        for (const contender of contenders) {
          const floor = workload === 'none' ? (contender.floor === undefined ? undefined : 'bare') : contender.floor;
          const mine = positions(order, contender.name);
          if (floors.has(contender.name)) {
            assert.ok(mine.length >= 1, `${contender.name} runs in round ${round}`);
            continue;
          }
          assert.equal(mine.length, 1, `${contender.name} runs once in round ${round}`);
          if (floor === undefined) continue;
          const distance = Math.min(...positions(order, floor).map((p) => Math.abs(p - (mine[0] as number))));
          assert.ok(distance <= PER_FLOOR_RUN, `${contender.name} is ${distance} runs from ${floor} in round ${round}: ${order.join(' ')}`);
        }
      }
    });
  }

  it('puts each contender beside the one it is compared with', () => {
    const order = names(roundOrder(defaults.map((contender) => ({ contender })), 'read', 1));
    for (const [a, b] of [
      ['kss-cookie', 'koa-session-cookie'],
      ['kss-map', 'koa-session-map'],
      ['kss-redis', 'koa-session-redis'],
    ] as const) {
      assert.equal(Math.abs(order.indexOf(a) - order.indexOf(b)), 1, `${a} beside ${b}: ${order.join(' ')}`);
    }
    const login = all.filter((c) => c.login === true);
    const loginOrder = names(roundOrder(login.map((contender) => ({ contender })), 'login', 1));
    for (const indexed of login.filter((c) => c.unindexed !== undefined)) {
      assert.equal(Math.abs(loginOrder.indexOf(indexed.name) - loginOrder.indexOf(indexed.unindexed as string)), 1, `${indexed.name}: ${loginOrder.join(' ')}`);
    }
  });

  it('changes who runs first from round to round', () => {
    const firsts = new Set([1, 2, 3, 4].map((round) => names(roundOrder(defaults.map((contender) => ({ contender })), 'read', round))[0]));
    assert.ok(firsts.size >= 3, [...firsts].join(' '));
  });
});

describe('the pairing of runs', () => {
  const run = (contender: string, seq: number, rps: number, round = 1) => ({ round, seq, workload: 'read', contender, rps, p99Ms: 1, cpuUsPerReq: 1, failed: 0, serverErrors: 0 });

  it('takes the nearest run of the other contender in the same round', () => {
    const runs = [run('floor-store', 1, 100), run('kss-map', 2, 95), run('floor-store', 5, 50), run('kss-memory', 6, 45), run('floor-store', 9, 70, 2)];
    assert.equal(nearestRun(runs, runs[1], 'read', 'floor-store')?.seq, 1);
    assert.equal(nearestRun(runs, runs[3], 'read', 'floor-store')?.seq, 5);
    assert.equal(nearestRun(runs, run('kss-map', 10, 1, 3), 'read', 'floor-store'), undefined);
  });

  it('gives each contender its ratio to the floor run of its own block', () => {
    // The host halved its speed between the two blocks: both stores are at 0.9 of their floor.
    const runs = [run('bare', 0, 200), run('floor-store', 1, 100), run('kss-map', 2, 90), run('floor-store', 5, 50), run('kss-memory', 6, 45)];
    const rows = summarize(runs, all.filter((c) => ['bare', 'floor-store', 'kss-map', 'kss-memory'].includes(c.name)), ['read']);
    assert.equal(rows.find((r: { contender: string }) => r.contender === 'kss-map')?.ratioToFloor, 0.9);
    assert.equal(rows.find((r: { contender: string }) => r.contender === 'kss-memory')?.ratioToFloor, 0.9);
  });

  it('takes a contender that runs several times a round against bare Koa once a round, by its run nearest to bare', () => {
    const runs = [run('floor-store', 1, 100), run('floor-store', 5, 50), run('bare', 6, 100), run('floor-store', 2, 40, 2), run('bare', 3, 50, 2), run('floor-store', 9, 99, 2)];
    const rows = summarize(runs, all.filter((c) => ['bare', 'floor-store'].includes(c.name)), ['read']);
    // Round 1: 50 / 100 (the run at 5, not the one at 1); round 2: 40 / 50.
    assert.equal(rows.find((r: { contender: string }) => r.contender === 'floor-store')?.ratioToBare, (0.5 + 0.8) / 2);
  });
});
