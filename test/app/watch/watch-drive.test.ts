import { describe, expect, it } from 'vitest';
import { HOLD_DOWNTIME_LIMIT_MS, releaseDowntimeLimitMs } from '../../../src/app/watch/drive.js';
import type { QmpRamStats } from '../../../src/qemu/qmp-types.js';
import { autoConvergePercent } from '../../../src/app/watch/watch-throttle.js';
import { QEMU_MAX_DOWNTIME_LIMIT_MS } from '../../../src/facts/qemu.js';

const ram = (remainingBytes: number, mbps: number | undefined): QmpRamStats =>
  mbps === undefined ? { totalBytes: 1 << 30, transferredBytes: 0, remainingBytes } : { totalBytes: 1 << 30, transferredBytes: 0, remainingBytes, mbps };

describe('releaseDowntimeLimitMs', () => {
  it.each([
    // 1000 Mbit/s = 125 000 B/ms. 2 × (50 MB + 1 s × 10 MB/s) / 125 000 = 960 ms, above the deadline.
    ['twice (remaining + 1 s of dirtying) over QEMU bandwidth', 50e6, 10e6, 1000, 300, 960],
    ['at least the deadline', 1e6, 0, 1000, 300, 300],
    ['rounded up to whole ms', 1_000_001, 0, 8, 1, 2_000_002 / 1000],
    ["QEMU's maximum when QEMU reports no bandwidth (its threshold is then 0 whatever the limit)", 1e6, 0, 0, 300, QEMU_MAX_DOWNTIME_LIMIT_MS],
    ["QEMU's maximum when QEMU reports no mbps at all", 1e6, 0, undefined, 300, QEMU_MAX_DOWNTIME_LIMIT_MS],
    ["capped at QEMU's maximum", 1e12, 0, 1, 300, QEMU_MAX_DOWNTIME_LIMIT_MS],
  ] as const)('is %s', (_what, remaining, dirty, mbps, deadline, expected) => {
    expect(releaseDowntimeLimitMs(ram(remaining, mbps), dirty, deadline)).toBe(Math.ceil(expected));
  });

  it('lets QEMU switch over at its next check: pending ≤ bandwidth × limit, with margin', () => {
    const r = ram(30e6, 1073.7);
    const limit = releaseDowntimeLimitMs(r, 80e6, 300);
    const thresholdBytes = ((1073.7 * 1e6) / 8 / 1000) * limit;
    expect(thresholdBytes).toBeGreaterThanOrEqual(2 * (30e6 + 80e6));
    expect(limit).toBeGreaterThan(HOLD_DOWNTIME_LIMIT_MS);
  });
});

describe('autoConvergePercent', () => {
  const advice = (fraction: number) => ({ maxDirtyBytesPerS: 100e6 * (1 - fraction), currentDirtyBytesPerS: 100e6, throttleFraction: fraction });
  it.each([
    [0.3, 0, 30],
    [0.301, 0, 31],
    [0.99, 0, 99],
    [1, 0, 99],
    // Measured under 50 %: half the rate again is 1 − 0.5 × 0.5 = 75 % absolute.
    [0.5, 50, 75],
    [0.2, 50, 60],
    [0.5, 90, 95],
  ])('takes away %f of the dirtying measured under %i % as %i % of CPU (QEMU accepts 1..99)', (fraction, current, pct) => {
    expect(autoConvergePercent(advice(fraction), current)).toBe(pct);
  });

  it('keeps the share QEMU already takes when the guest is at the advised rate', () => {
    expect(autoConvergePercent(advice(0), 40)).toBe(40);
  });
});
