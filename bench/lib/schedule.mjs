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

/** `entries` ({ contender }) reordered so each one's compared contender comes right after it. */
function comparedTogether(entries) {
  const left = [...entries];
  const ordered = [];
  while (left.length > 0) {
    const entry = left.shift();
    ordered.push(entry);
    const partner = left.findIndex((other) => compared(entry.contender, other.contender));
    if (partner >= 0) ordered.push(...left.splice(partner, 1));
  }
  return ordered;
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
    const ordered = comparedTogether(members);
    for (let i = 0; i < ordered.length; i += PER_FLOOR_RUN) {
      const chunk = ordered.slice(i, i + PER_FLOOR_RUN);
      blocks.push(round % 2 === 1 ? [byName.get(floor), ...chunk] : [...chunk, byName.get(floor)]);
    }
  }
  const rest = comparedTogether(unbounded.filter((entry) => !bounded.has(entry.contender.name)));
  for (let i = 0; i < rest.length; i += PER_FLOOR_RUN + 1) blocks.push(rest.slice(i, i + PER_FLOOR_RUN + 1));
  if (blocks.length === 0) return [];
  const shift = (round - 1) % blocks.length;
  return [...blocks.slice(shift), ...blocks.slice(0, shift)].flat();
}
