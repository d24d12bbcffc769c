import { describe, expect, it } from 'vitest';
import { convergenceRatio, maxDirtyRateForTarget, projectPrecopy } from '../../src/estimators/precopy.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

describe('projectPrecopy', () => {
  it('shrinks pending bytes by rho each round (AVG model)', () => {
    const p = projectPrecopy({ remainingBytes: 8 * GiB, dirtyBytesPerS: 16 * MiB, bandwidthBytesPerS: 128 * MiB }, 32 * MiB);
    expect(p.rho).toBeCloseTo(0.125);
    // 8 GiB -> 1 GiB -> 128 MiB -> 16 MiB: three rounds.
    expect(p.rounds).toBe(3);
    expect(p.reachesTarget).toBe(true);
    expect(p.finalRemainingBytes).toBe(16 * MiB);
    // (8 GiB + 1 GiB + 128 MiB) / 128 MiB/s = 73 s.
    expect(p.timeMs).toBeCloseTo(73_000, 6);
  });

  it('never reaches the target when the guest dirties as fast as the link sends', () => {
    const p = projectPrecopy({ remainingBytes: 8 * GiB, dirtyBytesPerS: 127 * MiB, bandwidthBytesPerS: 128 * MiB }, 32 * MiB, {
      maxTimeMs: 120_000,
    });
    expect(p.reachesTarget).toBe(false);
    expect(p.rho).toBeGreaterThan(0.99);
    expect(p.timeMs).toBeLessThanOrEqual(120_000);
  });

  it('stops at the writable working set when rho >= 1', () => {
    const p = projectPrecopy(
      { remainingBytes: 4 * GiB, dirtyBytesPerS: 256 * MiB, bandwidthBytesPerS: 128 * MiB, wwsBytes: 512 * MiB },
      32 * MiB,
    );
    expect(p.reachesTarget).toBe(false);
    expect(p.finalRemainingBytes).toBe(512 * MiB);
  });

  it('is done before any round when already under the target', () => {
    const p = projectPrecopy({ remainingBytes: MiB, dirtyBytesPerS: 0, bandwidthBytesPerS: MiB }, 2 * MiB);
    expect(p).toMatchObject({ reachesTarget: true, rounds: 0, timeMs: 0 });
  });

  it('treats a zero bandwidth as never converging', () => {
    expect(convergenceRatio(1, 0)).toBe(Number.POSITIVE_INFINITY);
    expect(projectPrecopy({ remainingBytes: GiB, dirtyBytesPerS: 0, bandwidthBytesPerS: 0 }, MiB).reachesTarget).toBe(false);
  });
});

describe('maxDirtyRateForTarget', () => {
  const state = { remainingBytes: 8 * GiB, dirtyBytesPerS: 127 * MiB, bandwidthBytesPerS: 128 * MiB };

  it('finds a rate that converges within the budget, and a slightly higher one does not', () => {
    const rate = maxDirtyRateForTarget(state, 32 * MiB, 120_000);
    expect(rate).toBeGreaterThan(0);
    expect(rate).toBeLessThan(state.dirtyBytesPerS);
    const at = projectPrecopy({ ...state, dirtyBytesPerS: rate }, 32 * MiB, { maxTimeMs: 120_000 });
    expect(at.reachesTarget).toBe(true);
    const above = projectPrecopy({ ...state, dirtyBytesPerS: rate * 1.05 }, 32 * MiB, { maxTimeMs: 120_000 });
    expect(above.reachesTarget).toBe(false);
  });

  it('returns the current rate when no throttle is needed', () => {
    expect(maxDirtyRateForTarget({ ...state, dirtyBytesPerS: MiB }, 32 * MiB, 120_000)).toBe(MiB);
  });

  it('returns 0 when even an idle guest cannot finish the first round in time', () => {
    expect(maxDirtyRateForTarget(state, 32 * MiB, 10_000)).toBe(0);
  });
});
