import { describe, expect, it } from 'vitest';
import { runPrecopy } from '../../src/tuning/precopy-run.js';
import { switchoverKnobs } from '../../src/tuning/switchover-knobs.js';

const NONE = { kind: 'none' } as const;

describe('runPrecopy: passes as QEMU runs them', () => {
  it('ends each pass inside the last window above the threshold and completes when r + dirtied fits', () => {
    // ρ = 0.5; threshold 10 MB = one 100 ms window, so r is uniform on [0, 10 MB], 5 MB on average.
    const w = { ramBytes: 1e9, dirtyBytesPerS: 5e7, bandwidthBytesPerS: 1e8 };
    const median = runPrecopy(w, NONE, { ramThresholdBytes: 1e7, minPassMs: 0, completionQuantile: 0.5 });
    // Passes send 1 GB, 500 MB, ..., 7.8125 MB; pass 7 dirties 7.8 MB (completes with p = 0.22),
    // pass 8 dirties 3.9 MB (p = 0.61): P(not yet) = 0.78 × 0.39 = 0.31 ≤ 0.5.
    expect(median).toMatchObject({ converged: true, passes: 8, dirtySyncCount: 10, steps: [] });
    expect(median.sentBytes).toBeCloseTo(1.9921875e9, 0);
    expect(median.precopyMs).toBeCloseTo(19_921.875, 6);
    expect(median.pendingBytes).toBeCloseTo(5e6 + 3.90625e6, 0);
    // Planning at 90 %: one more pass (1.95 MB dirtied, p = 0.80; P(not yet) = 0.06).
    const plan = runPrecopy(w, NONE, { ramThresholdBytes: 1e7, minPassMs: 0 });
    expect(plan.passes).toBe(9);
    expect(plan.precopyMs).toBeCloseTo(19_960.9375, 6);
  });

  it('takes the first pass at its own size (zero pages are scanned, not sent)', () => {
    const run = runPrecopy({ ramBytes: 1e9, firstPassBytes: 4e8, dirtyBytesPerS: 5e7, bandwidthBytesPerS: 1e8 }, NONE, { ramThresholdBytes: 1e7, minPassMs: 0, completionQuantile: 0.5 });
    // 4 s first pass dirties 200 MB; then 200, 100, ... MB: the same tail as above, one pass shorter.
    expect(run.passes).toBe(7);
    expect(run.precopyMs).toBeCloseTo(4000 + (2e8 * (1 - 0.5 ** 6)) / 0.5 / 1e5, 6);
  });

  it('fires auto-converge at the second high period ≥ 1 s apart, then steps by the increment', () => {
    // ρ = 1 with a 200 MB working set: pass 1 (10 s) dirties 20 % of what it sent (low); passes of
    // 2 s then dirty 100 % (high): the 2nd high period is the end of pass 3.
    const run = runPrecopy(
      { ramBytes: 1e9, dirtyBytesPerS: 1e8, bandwidthBytesPerS: 1e8, wwsBytes: 2e8 },
      { kind: 'auto-converge', initialPct: 20, incrementPct: 10, maxPct: 99 },
      { ramThresholdBytes: 1e7 },
    );
    expect(run.steps[0]).toEqual({ atMs: 14_000, pass: 3, dirtyBytesPerS: 8e7, slowdown: 0.2, vcpuSlowdown: 0.2, cpuThrottlePct: 20 });
    // Pass 4 (2 s) dirties 160 MB (high #1), pass 5 (1.6 s) 128 MB (high #2): 30 %.
    expect(run.steps[1]?.pass).toBe(5);
    expect(run.steps[1]?.atMs).toBeCloseTo(17_600, 6);
    expect(run.steps[1]?.cpuThrottlePct).toBe(30);
    expect(run.converged).toBe(true);
    expect(run.cpuThrottlePct).toBe(run.steps[run.steps.length - 1]?.cpuThrottlePct);
    expect(run.meanSlowdown).toBeGreaterThan(0);
    expect(run.meanSlowdown).toBeLessThan(run.slowdown);
  });

  it('applies dirty-limit at the first trigger only', () => {
    const run = runPrecopy(
      { ramBytes: 1e9, dirtyBytesPerS: 1e8, bandwidthBytesPerS: 1e8, wwsBytes: 2e8, vcpus: 2 },
      { kind: 'dirty-limit', vcpuLimitBytesPerS: 1e6 },
      { ramThresholdBytes: 1e7 },
    );
    expect(run.steps).toHaveLength(1);
    expect(run.steps[0]?.pass).toBe(3);
    // Each vCPU settles at quota + 25 MiB/s at worst: 2 × 27.2 MB/s.
    expect(run.dirtyBytesPerS).toBeCloseTo(2 * (1e6 + 25 * 1048576), 6);
    expect(run.converged).toBe(true);
  });

  it('lets the guest dirty for at least one window per pass: at ρ ≥ 1 a window of dirtying never fits', () => {
    // Passes cannot get shorter than 100 ms: at ρ = 1 each dirties a whole window, r + d > threshold always.
    const never = runPrecopy({ ramBytes: 1e9, dirtyBytesPerS: 1e8, bandwidthBytesPerS: 1e8, wwsBytes: 1e8 }, NONE, { ramThresholdBytes: 3e7 });
    expect(never).toMatchObject({ converged: false, stalled: true });
    // At ρ = 0.5 a 100 ms pass dirties half a window: it completes half the time.
    const half = runPrecopy({ ramBytes: 1e9, dirtyBytesPerS: 5e7, bandwidthBytesPerS: 1e8 }, NONE, { ramThresholdBytes: 1e7 });
    expect(half.converged).toBe(true);
    expect(half.passes).toBe(10);
  });

  it('stalls, never converging, when ρ ≥ 1 and no throttle is left', () => {
    const run = runPrecopy({ ramBytes: 1e9, dirtyBytesPerS: 1.2e8, bandwidthBytesPerS: 1e8, wwsBytes: 3e8 }, NONE, { ramThresholdBytes: 1e7 });
    expect(run).toMatchObject({ converged: false, stalled: true, passes: 2, pendingBytes: 5e6 + 3e8 });
  });

  it('stops before a pass would end past maxTimeMs', () => {
    const run = runPrecopy({ ramBytes: 1e9, dirtyBytesPerS: 5e7, bandwidthBytesPerS: 1e8 }, NONE, { ramThresholdBytes: 1e7, maxTimeMs: 16_000 });
    expect(run).toMatchObject({ converged: false, stalled: false, passes: 2, precopyMs: 15_000 });
  });

  it('switches at once when all of RAM already fits the threshold', () => {
    const run = runPrecopy({ ramBytes: 1e6, dirtyBytesPerS: 1e9, bandwidthBytesPerS: 1e8 }, NONE, { ramThresholdBytes: 1e7 });
    expect(run).toMatchObject({ converged: true, passes: 0, precopyMs: 0, pendingBytes: 1e6 });
  });

  it('rejects a workload that cannot exist', () => {
    expect(() => runPrecopy({ ramBytes: -1, dirtyBytesPerS: 1, bandwidthBytesPerS: 1 }, NONE, { ramThresholdBytes: 0 })).toThrow(/E_BAD_INPUT|finite/);
  });
});

describe('switchoverKnobs: QEMU threshold = our RAM target + device sizes', () => {
  it('uses the link rate as avail-switchover-bandwidth and the rest of the deadline as downtime-limit', () => {
    expect(switchoverKnobs(500e6, 100e6, 2e9, 300)).toEqual({
      downtimeLimitMs: 300,
      availSwitchoverBandwidthBytesPerS: 2e9,
      thresholdBytes: 600e6,
      ramThresholdBytes: 500e6,
    });
  });

  it('rounds the limit down, so QEMU never switches above the target', () => {
    const k = switchoverKnobs(123_456_789, 0, 1e9, 300);
    expect(k.downtimeLimitMs).toBe(123);
    expect(k.thresholdBytes).toBe(123e6);
    expect(k.thresholdBytes).toBeLessThanOrEqual(123_456_789);
  });

  it('sets downtime-limit to the deadline and derives the bandwidth when the link rate is unknown', () => {
    expect(switchoverKnobs(30e6, 0, null, 300)).toMatchObject({ downtimeLimitMs: 300, availSwitchoverBandwidthBytesPerS: 100e6, thresholdBytes: 30e6 });
  });

  it('never hands QEMU 0 bytes/s, which it reads as "use the measured rate"', () => {
    expect(switchoverKnobs(0, 0, 1e9, 300)).toMatchObject({ availSwitchoverBandwidthBytesPerS: 1, downtimeLimitMs: 1, ramThresholdBytes: 0.001 });
  });

  it('caps downtime-limit at QEMU’s 2,000,000 ms', () => {
    expect(switchoverKnobs(1e15, 0, 1e6, 300).downtimeLimitMs).toBe(2_000_000);
  });
});
