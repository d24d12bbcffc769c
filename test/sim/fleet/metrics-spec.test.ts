import { describe, expect, it } from 'vitest';
import { GiB } from '../../../src/sim/fleet/constants.js';
import { pairedTimeRatio, summarize } from '../../../src/sim/fleet/metrics.js';
import type { MigrationResult } from '../../../src/sim/fleet/run-migration.js';
import { drawFleet, drawVmSpec } from '../../../src/sim/fleet/vm-spec.js';

function result(vmId: string, over: Partial<MigrationResult>): MigrationResult {
  return {
    vmId,
    policy: 'p',
    deadlineMs: 300,
    completed: true,
    abortReason: null,
    blackoutMs: 100,
    predictedBlackoutMs: 90,
    met: true,
    totalTimeMs: 10_000,
    attempts: 1,
    unwinds: 0,
    pausedInUnwindsMs: 0,
    maxSlowdown: 0,
    polls: 100,
    ...over,
    status: over.status ?? (over.completed === false ? 'aborted' : 'completed'),
  };
}

describe('fleet metrics', () => {
  const results = [
    result('a', { blackoutMs: 100 }),
    result('b', { blackoutMs: 400, met: false, totalTimeMs: 30_000 }),
    result('c', { completed: false, abortReason: 'DEADLINE_UNREACHABLE', blackoutMs: null, met: null, predictedBlackoutMs: null, totalTimeMs: 99_000 }),
    result('d', { blackoutMs: 200, maxSlowdown: 0.5, totalTimeMs: 20_000 }),
  ];
  const s = summarize('p', results);

  it('counts a miss over attempted migrations, and separately over completed ones', () => {
    expect(s.missed).toBe(1);
    expect(s.missRate).toBe(1 / 4);
    expect(s.missRateOfCompleted).toBe(1 / 3);
    expect(s.abortedShare).toBe(1 / 4);
    expect(s.abortReasons).toEqual({ DEADLINE_UNREACHABLE: 1 });
  });

  it('takes blackout quantiles and mean total time over completed migrations only', () => {
    expect(s.blackoutP50Ms).toBe(200);
    expect(s.blackoutP99Ms).toBeCloseTo(400 - 0.02 * 200, 9); // type 7 between 200 and 400
    expect(s.meanTotalTimeMs).toBe(20_000);
    expect(s.throttledShare).toBe(1 / 4);
  });

  it('pairs total times on the migrations both policies completed', () => {
    const other = [result('a', { totalTimeMs: 5_000 }), result('b', { completed: false }), result('d', { totalTimeMs: 15_000 })];
    expect(pairedTimeRatio(results, other)).toMatchObject({ ratio: 30_000 / 20_000, pairs: 2 });
  });
});

describe('the fleet', () => {
  it('is a pure function of (seed, index)', () => {
    expect(drawVmSpec(1, 17)).toEqual(drawVmSpec(1, 17));
    expect(drawVmSpec(1, 17)).not.toEqual(drawVmSpec(2, 17));
    expect(drawFleet(1, 20)[17]).toEqual(drawVmSpec(1, 17));
  });

  it('stays within the issue ranges: 4–64 GiB, 0–4 devices, 10–100 Gb/s, pre-copy no faster than the blackout', () => {
    const fleet = drawFleet(11, 400);
    for (const vm of fleet) {
      expect(vm.ramBytes).toBeGreaterThanOrEqual(4 * GiB);
      expect(vm.ramBytes).toBeLessThanOrEqual(64 * GiB);
      expect(vm.devices.length).toBeLessThanOrEqual(4);
      expect([10, 25, 40, 100]).toContain(vm.linkGbps);
      expect(vm.precopyBytesPerS).toBeLessThanOrEqual(vm.blackoutBytesPerS);
      expect(vm.blackoutBytesPerS).toBeLessThanOrEqual((vm.linkGbps * 1e9) / 8);
      expect([50, 300, 1000]).toContain(vm.deadlineMs);
      expect(vm.budgetMs).toBe(150_000 * Math.ceil(vm.ramBytes / 1e9));
    }
    const regimes = new Set(fleet.map((v) => v.workload));
    expect([...regimes].sort()).toEqual(['heavy', 'idle', 'light', 'moderate', 'thrashing']);
    expect(fleet.some((v) => v.devices.length === 0)).toBe(true);
    expect(fleet.some((v) => v.devices.length === 4)).toBe(true);
  });
});
