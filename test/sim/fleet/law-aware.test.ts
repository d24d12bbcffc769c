import { describe, expect, it } from 'vitest';
import { lawAwareFrontier } from '../../../src/app/fleet-frontier.js';
import { stallExceedance } from '../../../src/sim/fleet/attempt-costs.js';
import { VM_COSTS } from '../../../src/sim/fleet/constants.js';
import { runMigration } from '../../../src/sim/fleet/run-migration.js';
import { LawAwareProbe } from '../../../src/sim/policies/law-aware.js';
import { calmVm } from './helpers.js';

describe('the stall law', () => {
  it('is its probability below the shortest stall, falls linearly across [min, max] and is 0 past the longest', () => {
    expect(stallExceedance(-5)).toBe(VM_COSTS.stallProb);
    expect(stallExceedance(VM_COSTS.stallMinMs - 1)).toBe(VM_COSTS.stallProb);
    expect(stallExceedance((VM_COSTS.stallMinMs + VM_COSTS.stallMaxMs) / 2)).toBeCloseTo(VM_COSTS.stallProb / 2, 12);
    expect(stallExceedance(VM_COSTS.stallMaxMs)).toBe(0);
  });
});

describe('the law-aware probe', () => {
  it('names itself by its lever and refuses a draw count that is not an integer ≥ 1', () => {
    expect(new LawAwareProbe({ draws: 4, throttle: true }).name).toBe('law-aware-throttle');
    expect(new LawAwareProbe({ draws: 4, throttle: false }).name).toBe('law-aware');
    for (const draws of [0, 1.5, Number.NaN]) expect(() => new LawAwareProbe({ draws, throttle: false })).toThrow(RangeError);
  });

  it('never switches, and finds a VM with an hour of slack safe, one with 1 ms hopeless and one at the stall tail in between', async () => {
    const probe = new LawAwareProbe({ draws: 4, throttle: false });
    const safe = calmVm(1, { deadlineMs: 3_600_000, devices: [] });
    const hopeless = calmVm(2, { deadlineMs: 1, devices: [] });
    for (const spec of [safe, hopeless]) {
      const r = await runMigration(spec, probe);
      expect(r.completed).toBe(false);
    }
    expect(probe.minima.get(safe.id)?.missProbability).toBe(0);
    expect(probe.minima.get(safe.id)?.atMs).not.toBeNull();
    expect(probe.minima.get(hopeless.id)?.missProbability).toBe(1);
    // A calm device-less VM blacks out in ~10–40 ms: with a 250 ms deadline only a stall > ~210 ms misses.
    const tail = calmVm(3, { deadlineMs: 250, devices: [] });
    await runMigration(tail, probe);
    const p = probe.minima.get(tail.id)!.missProbability;
    expect(p).toBeGreaterThan(0);
    expect(p).toBeLessThan(VM_COSTS.stallProb);
  });

  it('redraws the same switchovers for the same VM (a deterministic frontier)', async () => {
    const spec = calmVm(4, { deadlineMs: 150 });
    const a = new LawAwareProbe({ draws: 3, throttle: true });
    const b = new LawAwareProbe({ draws: 3, throttle: true });
    await runMigration(spec, a);
    await runMigration(spec, b);
    expect(a.minima.get(spec.id)).toEqual(b.minima.get(spec.id));
  });
});

describe('the law-aware frontier', () => {
  it('spends at most α of the attempted in expected misses, and throttling only adds to what waiting completes', async () => {
    const f = await lawAwareFrontier(3, 24, { alpha: 0.05, draws: 3 });
    expect(f.attempted).toBe(24);
    for (const side of [f, f.withoutThrottle]) {
      expect(side.expectedMissed).toBeLessThanOrEqual(0.05 * 24 + 1e-9);
      expect(side.committed).toBeLessThanOrEqual(24);
      expect(side.expectedMet).toBeCloseTo(side.committed - side.expectedMissed, 9);
    }
    expect(f.committed).toBeGreaterThanOrEqual(f.withoutThrottle.committed);
    expect(f.expectedMet).toBeGreaterThanOrEqual(f.withoutThrottle.expectedMet - 1e-9);
    // Each VM's price, the lowest probability: the committed are the cheapest, and cost what was spent.
    expect(f.lowest.size).toBe(24);
    const cheapest = [...f.lowest.values()].sort((a, b) => a - b).slice(0, f.committed);
    expect(cheapest.reduce((s, p) => s + p, 0)).toBeCloseTo(f.expectedMissed, 9);
  });
});
