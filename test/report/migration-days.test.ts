import { describe, expect, it } from 'vitest';
import { MigrationDays } from '../../src/report/migration-days.js';
import { MAX_TIME_MS } from '../../src/telemetry/validate.js';

const DAY = 86_400_000;
const f64 = (xs: number[]): Float64Array => Float64Array.from(xs);

/** Migrations 1–6 (0 is no migration), read in the export's order: arcs, outcomes, sizes, RAM polls, then the rest. */
function read(sinceMs?: number): { settled: Array<[number[], number[]]>; days: MigrationDays } {
  const exists = [undefined, 'm1', 'm2', 'm3', 'm4', 'm5', 'm6'];
  const days = new MigrationDays(exists, sinceMs);
  const settled: Array<[number[], number[]]> = [];
  const settle = (rest: boolean): void => {
    const [ids, d] = days.settle(rest);
    settled.push([Array.from(ids), Array.from(d)]);
  };
  days.observe(f64([1, 1, 5]), f64([9 * DAY + 5, 9 * DAY + 1, MAX_TIME_MS + 1])); // arcs
  settle(false);
  days.observe(f64([1, 2, 2]), f64([3 * DAY, 7 * DAY + 2, 6 * DAY])); // outcomes: 1 is dated by its arcs
  settle(false);
  days.observe(f64([2, 3, 9]), f64([1 * DAY, 4 * DAY, 2 * DAY])); // sizes: 9 is not in the store
  settle(false);
  days.observe(f64([3, 4]), f64([2 * DAY, 8 * DAY])); // RAM polls
  settle(false);
  settle(true); // transfers: 6 has no dated rows
  return { settled, days };
}

describe('migration days', () => {
  it('dates each migration by its first arc, else first outcome, size poll, RAM poll, else day 0, as each table is read', () => {
    const { settled, days } = read();
    expect(settled).toEqual([
      [[1], [9]],
      [[2], [6]],
      [[3], [4]],
      [[4], [8]],
      [[6], [0]],
    ]);
    expect(days.size).toBe(5);
    expect(days.outOfRange).toEqual([5]);
  });

  it('leaves out migrations before the day of sinceMs', () => {
    const { settled, days } = read(6 * DAY + 7);
    expect(settled.flatMap(([ids]) => ids)).toEqual([1, 2, 4]);
    expect(days.size).toBe(3);
  });
});
