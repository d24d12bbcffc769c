import { describe, expect, it } from 'vitest';
import { projectPrecopy } from '../../src/estimators/precopy.js';
import { precopyTimeBoundMs, precopyTimeModel, precopyTimePoints, switchoverInMs } from '../../src/estimators/total-time.js';
import { crossValidatePrecopyPoints, crossValidateTotalTime } from '../../src/estimators/total-time-eval.js';
import { Rng } from '../../src/sim/rng.js';
import type { TelemetryRecord } from '../../src/records/records.js';

const MB = 1e6;

describe('switchoverInMs', () => {
  it('is 0 when what is pending, dirtying since the last sync included, fits', () => {
    expect(switchoverInMs({ remainingBytes: 10 * MB, dirtyBytesPerS: 10 * MB, bandwidthBytesPerS: 100 * MB, sinceSyncMs: 500 }, 20 * MB)).toBe(0);
  });

  it('counts what the guest dirtied since the last sync, which QEMU finds only at the next', () => {
    const s = { remainingBytes: 10 * MB, dirtyBytesPerS: 40 * MB, bandwidthBytesPerS: 100 * MB };
    // remaining alone fits; with 1 s since the sync, 40 MB more are pending: one round of 10 MB,
    // then 40 × 1.1 = 44 MB, then 17.6 MB fits.
    expect(switchoverInMs(s, 20 * MB)).toBe(0);
    expect(switchoverInMs({ ...s, sinceSyncMs: 1000 }, 20 * MB)).toBeCloseTo(100 + 440, 6);
  });

  it('agrees with the AVG projection right after a sync', () => {
    const s = { remainingBytes: 800 * MB, dirtyBytesPerS: 50 * MB, bandwidthBytesPerS: 100 * MB };
    expect(switchoverInMs({ ...s, sinceSyncMs: 0 }, 30 * MB)).toBeCloseTo(projectPrecopy(s, 30 * MB).timeMs, 6);
  });

  it('is Infinity when pre-copy does not converge', () => {
    expect(switchoverInMs({ remainingBytes: 800 * MB, dirtyBytesPerS: 150 * MB, bandwidthBytesPerS: 100 * MB }, 30 * MB)).toBe(Infinity);
  });
});

/** A QEMU-switched migration: polls every 200 ms at constant rates, ending after `precopyMs`. */
function migration(id: string, precopyMs: number): TelemetryRecord[] {
  const records: TelemetryRecord[] = [];
  for (let t = 0, pass = 1; t < precopyMs; t += 200, pass += t % 1000 === 0 ? 1 : 0) {
    records.push({ kind: 'ram', migrationId: id, atMs: t, pass, remainingBytes: 500 * MB * (1 - t / precopyMs) + MB, dirtyBytesPerS: t === 0 ? 0 : 20 * MB, bandwidthBytesPerS: 100 * MB });
  }
  records.push(
    { kind: 'transfer', migrationId: id, deviceId: 'ram', phase: 'precopy', bytes: 600 * MB, durationMs: precopyMs },
    { kind: 'transfer', migrationId: id, deviceId: 'ram', phase: 'stopcopy', bytes: 20 * MB, durationMs: 15 },
    { kind: 'outcome', migrationId: id, policy: 'qemu', deadlineMs: 300, decidedAtMs: precopyMs, predictedBlackoutMs: 300, actualBlackoutMs: 15, met: true },
  );
  return records;
}

describe('pre-copy time points and bound', () => {
  it('scores every poll after the first dirty-rate measurement against the time the migration still ran', () => {
    const pts = precopyTimePoints('m', migration('m', 6000));
    expect(pts.length).toBe(29);
    expect(pts[0]).toMatchObject({ atMs: 200, actualMs: 6000 + 15 - 200 });
    expect(pts.every((p) => p.projectedMs > 0 && Number.isFinite(p.projectedMs))).toBe(true);
  });

  it('has no points for a migration QEMU did not switch over by its own rule', () => {
    const records = migration('m', 6000).filter((r) => r.kind !== 'outcome');
    expect(precopyTimePoints('m', records)).toEqual([]);
  });

  it('bounds at the conformal rank of the sorted scores, and not at all with too few', () => {
    const scores = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8];
    // n = 19, α = 0.1: rank ⌈20 × 0.9⌉ = 18 → score 1.7.
    expect(precopyTimeBoundMs(1000, scores, 0.1)).toBeCloseTo(1000 * Math.exp(1.7), 6);
    expect(precopyTimeBoundMs(1000, scores.slice(0, 5), 0.1)).toBeUndefined();
    expect(precopyTimeBoundMs(Infinity, scores, 0.1)).toBe(Infinity);
  });

  it('leaves polls projected not to converge out of the scores', () => {
    const m = precopyTimeModel([
      { migrationId: 'a', atMs: 0, projectedMs: 1000, actualMs: 2000 },
      { migrationId: 'a', atMs: 1, projectedMs: Infinity, actualMs: 2000 },
      { migrationId: 'a', atMs: 2, projectedMs: 1000, actualMs: 500 },
    ]);
    expect(m.logRatioScores).toEqual([Math.log(0.5), Math.log(2)]);
  });

  it('reports each category on its own: a pooled median mixes runs that converge with runs that stall', () => {
    // Category "ok": projections within 2×; "stall": finite projections 16× short, and polls called non-converging.
    const points = [
      ...Array.from({ length: 6 }, (_, i) => [{ migrationId: `ok/${i}`, atMs: 0, projectedMs: 1000, actualMs: 2000 }]),
      ...Array.from({ length: 6 }, (_, i) => [
        { migrationId: `stall/${i}`, atMs: 0, projectedMs: 1000, actualMs: 16_000 },
        { migrationId: `stall/${i}`, atMs: 1, projectedMs: Infinity, actualMs: 15_000 },
      ]),
    ];
    const r = crossValidatePrecopyPoints(points, 0.1, 'loo');
    expect(r.byCategory.map((c) => c.category)).toEqual(['ok', 'stall']);
    expect(r.byCategory[0]).toMatchObject({ migrations: 6, polls: 6, nonConvergingShare: 0, medianAbsLog2Err: 1 });
    expect(r.byCategory[1]).toMatchObject({ migrations: 6, polls: 12, nonConvergingShare: 0.5, medianAbsLog2Err: 4 });
    expect(r.polls).toBe(18);
  });

  it('covers about 1 − α of held-out polls when the projection error is exchangeable across migrations', () => {
    for (let seed = 1; seed <= 5; seed++) {
      const rng = new Rng(seed);
      const cases = Array.from({ length: 40 }, (_, i) => {
        const id = `m${i}`;
        return { migrationId: id, records: migration(id, 4000 * Math.exp(rng.normal(0, 0.4))) };
      });
      const r = crossValidateTotalTime(cases, 0.1, 10);
      expect(r.migrations).toBe(40);
      expect(r.coverage).toBeGreaterThanOrEqual(0.8);
      expect(r.medianBoundOverActual).toBeGreaterThanOrEqual(1);
    }
  });
});
