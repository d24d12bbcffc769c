import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runPrecopy } from '../../src/tuning/precopy-run.js';
import { switchoverKnobs } from '../../src/tuning/switchover-knobs.js';
import { dirtyLimitForVmRate, vmRateUnderDirtyLimit } from '../../src/tuning/throttle.js';

const MiB = 2 ** 20;

describe('tuning invariants', () => {
  it('QEMU’s threshold from the knobs never exceeds RAM target + devices (but for the 0.001-byte floor), and rounds down by at most one step', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1e12, noNaN: true }), fc.double({ min: 0, max: 1e10, noNaN: true }), fc.double({ min: 1e6, max: 1e11, noNaN: true }), (target, devices, link) => {
        const k = switchoverKnobs(target, devices, link, 300);
        const want = Math.floor(target) + Math.ceil(devices);
        // With a 0-byte target QEMU gets 1 B/s × 1 ms: only an empty pending (an integer) passes.
        expect(k.thresholdBytes).toBeLessThanOrEqual(Math.max(want, 0.001) + 1e-9);
        expect(Number.isInteger(k.downtimeLimitMs) && Number.isInteger(k.availSwitchoverBandwidthBytesPerS)).toBe(true);
        expect(k.availSwitchoverBandwidthBytesPerS).toBeGreaterThanOrEqual(1);
        // Rounding loses at most one ms at that bandwidth (or, when the limit was set instead, 1 B/s over the limit).
        const step = Math.max(k.availSwitchoverBandwidthBytesPerS, k.downtimeLimitMs) / 1000;
        if (k.downtimeLimitMs < 2_000_000 && want > 0) expect(want - k.thresholdBytes).toBeLessThanOrEqual(step + 1e-6);
      }),
    );
  });

  it('holding a deeper throttle never lengthens pre-copy', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.2, max: 5, noNaN: true }),
        fc.double({ min: 0.01, max: 1, noNaN: true }),
        fc.integer({ min: 0, max: 98 }),
        fc.integer({ min: 1, max: 99 }),
        (rho, wwsShare, a, b) => {
          const [lo, hi] = a < b ? [a, b] : [b, a];
          const w = { ramBytes: 4e9, dirtyBytesPerS: rho * 1e8, bandwidthBytesPerS: 1e8, wwsBytes: 4e9 * wwsShare };
          const opts = { ramThresholdBytes: 5e7, maxTimeMs: 3_600_000 };
          const gentle = runPrecopy(w, { kind: 'held-throttle', pct: lo }, opts);
          const deep = runPrecopy(w, { kind: 'held-throttle', pct: hi }, opts);
          if (gentle.converged) {
            expect(deep.converged).toBe(true);
            expect(deep.precopyMs).toBeLessThanOrEqual(gentle.precopyMs + 1e-6);
          }
        },
      ),
    );
  });

  it('the dirty-limit quota found holds the VM at the target, and one MiB/s more does not', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 500, noNaN: true }), { minLength: 1, maxLength: 16 }), fc.double({ min: 0.05, max: 1, noNaN: true }), (mibs, share) => {
        const rates = mibs.map((m) => m * MiB);
        const total = rates.reduce((s, r) => s + r, 0);
        const target = total * share;
        const q = dirtyLimitForVmRate(rates, target);
        if (q === null) {
          expect(vmRateUnderDirtyLimit(rates, MiB)).toBeGreaterThan(target);
          return;
        }
        expect(vmRateUnderDirtyLimit(rates, q * MiB)).toBeLessThanOrEqual(target + 1e-6);
        if (total > target) expect(vmRateUnderDirtyLimit(rates, (q + 1) * MiB)).toBeGreaterThan(target);
      }),
    );
  });
});
