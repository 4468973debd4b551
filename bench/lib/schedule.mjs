// The order of one round's runs. This host's speed can change twofold within a
// minute, and a round of twenty contenders lasts about one, so a ratio taken
// between runs half a round apart measures the host as much as the code. Each
// contender is therefore measured in a block with a run of its floor (at most
// PER_FLOOR_RUN contenders per floor run), with the contender it is compared
// with (koa-session, or the same store without `indexBy`) beside it; the
// report pairs each run with the nearest run of the other (report.mjs).
import { floorOf } from './report.mjs';

/** Contenders measured per run of their floor: more floor runs cost time, fewer leave runs further from theirs. */
export const PER_FLOOR_RUN = 3;

/** Whether two contenders are compared with each other in the report (peer, or indexed and not). */
function compared(a, b) {
  return a.peer === b.name || b.peer === a.name || a.unindexed === b.name || b.unindexed === a.name;
}

/** `entries` ({ contender }) as units to keep together: one entry, or one and the one it is compared with. */
function comparedTogether(entries) {
  const left = [...entries];
  const units = [];
  while (left.length > 0) {
    const entry = left.shift();
    const partner = left.findIndex((other) => compared(entry.contender, other.contender));
    units.push(partner >= 0 ? [entry, ...left.splice(partner, 1)] : [entry]);
  }
  return units;
}

/** `units` packed in order into chunks of at most `size` entries, a unit never split. */
function chunks(units, size) {
  const packed = [];
  let chunk = [];
  for (const unit of units) {
    if (chunk.length > 0 && chunk.length + unit.length > size) {
      packed.push(chunk);
      chunk = [];
    }
    chunk.push(...unit);
  }
  if (chunk.length > 0) packed.push(chunk);
  return packed;
}

/**
 * The runs of round `round` (from 1) of `workload`, in order: blocks of a floor and up to
 * PER_FLOOR_RUN of the contenders it bounds (a floor is measured once per block, so more
 * than once per round when it bounds many), then blocks of those with no floor here.
 * The floor opens its blocks in odd rounds and closes them in even ones, and the blocks
 * rotate from round to round, so no contender always runs first, last or after the same one.
 */
export function roundOrder(entries, workload, round) {
  const byName = new Map(entries.map((entry) => [entry.contender.name, entry]));
  const bounded = new Map();
  const unbounded = [];
  for (const entry of entries) {
    const floor = floorOf(entry.contender, workload);
    if (floor !== null && floor !== entry.contender.name && byName.has(floor)) {
      if (!bounded.has(floor)) bounded.set(floor, []);
      bounded.get(floor).push(entry);
    } else {
      unbounded.push(entry);
    }
  }
  const blocks = [];
  for (const [floor, members] of bounded) {
    for (const chunk of chunks(comparedTogether(members), PER_FLOOR_RUN)) {
      blocks.push(round % 2 === 1 ? [byName.get(floor), ...chunk] : [...chunk, byName.get(floor)]);
    }
  }
  blocks.push(...chunks(comparedTogether(unbounded.filter((entry) => !bounded.has(entry.contender.name))), PER_FLOOR_RUN + 1));
  if (blocks.length === 0) return [];
  const shift = (round - 1) % blocks.length;
  return [...blocks.slice(shift), ...blocks.slice(0, shift)].flat();
}
