import { describe, expect, it } from 'vitest';
import { TuningError } from '../../src/tuning/errors.js';
import { MiB } from '../../src/facts/qemu.js';
import { cpuThrottleForVmRate, cpuThrottleUnder, dirtyLimitForVmRate, throttleKnobs, ThrottleState, vcpuRates, vmRateUnderDirtyLimit } from '../../src/tuning/throttle.js';

const base = { ramBytes: 8 * 1024 * MiB, bandwidthBytesPerS: 128 * MiB };

describe('per-vCPU rates', () => {
  it('scales measured per-vCPU rates to the whole-VM rate, keeping their shares', () => {
    expect(vcpuRates({ ...base, dirtyBytesPerS: 100, vcpuDirtyBytesPerS: [30, 10, 10] })).toEqual([60, 20, 20]);
  });

  it('splits the VM rate evenly over a vCPU count when no per-vCPU rates are known', () => {
    expect(vcpuRates({ ...base, dirtyBytesPerS: 100, vcpus: 4 })).toEqual([25, 25, 25, 25]);
  });

  it('knows nothing per vCPU without either', () => {
    expect(vcpuRates({ ...base, dirtyBytesPerS: 100 })).toBeNull();
  });
});

describe('dirty-limit', () => {
  // One hot vCPU (200 MiB/s) and three quiet ones (10 MiB/s each).
  const skewed = [200 * MiB, 10 * MiB, 10 * MiB, 10 * MiB];

  it('caps only the vCPUs above quota + 25 MiB/s (QEMU DIRTYLIMIT_TOLERANCE_RANGE)', () => {
    expect(vmRateUnderDirtyLimit(skewed, 50 * MiB)).toBe((75 + 30) * MiB);
    expect(vmRateUnderDirtyLimit(skewed, 1 * MiB)).toBe((26 + 30) * MiB);
  });

  it('finds the largest whole-MiB/s quota that holds the VM at a target', () => {
    const mib = dirtyLimitForVmRate(skewed, 100 * MiB);
    expect(mib).toBe(45);
    expect(vmRateUnderDirtyLimit(skewed, 45 * MiB)).toBeLessThanOrEqual(100 * MiB);
    expect(vmRateUnderDirtyLimit(skewed, 46 * MiB)).toBeGreaterThan(100 * MiB);
  });

  it('says when even the 1 MiB/s minimum quota cannot reach a target', () => {
    expect(dirtyLimitForVmRate([100 * MiB, 100 * MiB], 40 * MiB)).toBeNull();
  });

  it('slows a skewed guest less than auto-converge does for the same VM rate', () => {
    const w = { ...base, dirtyBytesPerS: 230 * MiB, vcpuDirtyBytesPerS: skewed };
    const k = throttleKnobs(100 * MiB, w);
    expect(k.cpuThrottlePct).toBe(57);
    expect(k.vcpuDirtyLimitMiBPerS).toBe(45);
    const dl = new ThrottleState({ kind: 'dirty-limit', vcpuLimitBytesPerS: 45 * MiB }, w);
    dl.trigger();
    expect(dl.dirtyBytesPerS).toBe(100 * MiB);
    expect(dl.slowdown).toBeCloseTo(1 - 100 / 230, 12);
    expect(dl.slowdown).toBeLessThan(0.57);
  });

  it('needs vCPU rates or a count', () => {
    expect(() => new ThrottleState({ kind: 'dirty-limit', vcpuLimitBytesPerS: MiB }, { ...base, dirtyBytesPerS: MiB })).toThrow(TuningError);
  });

  it('sets the quota once: later triggers change nothing', () => {
    const s = new ThrottleState({ kind: 'dirty-limit', vcpuLimitBytesPerS: 10 * MiB }, { ...base, dirtyBytesPerS: 200 * MiB, vcpus: 2 });
    expect(s.canTighten).toBe(true);
    expect(s.trigger()).toBe(true);
    expect(s.dirtyBytesPerS).toBe(70 * MiB);
    expect(s.canTighten).toBe(false);
    expect(s.trigger()).toBe(false);
  });
});

describe('auto-converge', () => {
  it('steps initial, then + increment per trigger, up to max; the rate scales by (1 − pct)', () => {
    const s = new ThrottleState({ kind: 'auto-converge', initialPct: 20, incrementPct: 30, maxPct: 60 }, { ...base, dirtyBytesPerS: 100 });
    expect(s.dirtyBytesPerS).toBe(100);
    s.trigger();
    expect([s.cpuThrottlePct, s.dirtyBytesPerS]).toEqual([20, 80]);
    s.trigger();
    expect(s.cpuThrottlePct).toBe(50);
    expect(s.canTighten).toBe(true);
    s.trigger();
    expect([s.cpuThrottlePct, s.slowdown, s.canTighten]).toEqual([60, 0.6, false]);
    expect(s.trigger()).toBe(false);
  });

  it('maps a target rate to the smallest whole percentage that reaches it', () => {
    expect(cpuThrottleForVmRate(100, 60)).toBe(40);
    expect(cpuThrottleForVmRate(100, 59.5)).toBe(41);
    expect(cpuThrottleForVmRate(100, 120)).toBe(0);
    expect(cpuThrottleForVmRate(100, 0)).toBe(99);
  });

  it('compounds a throttle on a rate measured under one: 1 − (1 − current)(1 − f)', () => {
    // 60 measured under 50 % is 120 unthrottled; 30 is 75 % off that.
    expect(cpuThrottleUnder(50, 60, 30)).toBe(75);
    expect(cpuThrottleUnder(0, 100, 60)).toBe(cpuThrottleForVmRate(100, 60));
    expect(cpuThrottleUnder(90, 100, 100)).toBe(90);
    expect(cpuThrottleUnder(99, 100, 10)).toBe(99);
  });

  it('holds a what-if throttle from the start', () => {
    const s = new ThrottleState({ kind: 'held-throttle', pct: 40 }, { ...base, dirtyBytesPerS: 100 });
    expect([s.dirtyBytesPerS, s.slowdown, s.canTighten]).toEqual([60, 0.4, false]);
  });
});
