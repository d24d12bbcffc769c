import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { precopyPlateauBytes, PLATEAU_PASSES } from '../../src/estimators/precopy-plateau.js';
import { observedPassShrink, projectedSwitchoverMs, switchoverInMs } from '../../src/estimators/total-time.js';
import { crossValidateTotalTime } from '../../src/estimators/total-time-eval.js';
import { qmpEvalInput } from '../../src/qemu/qmp-eval.js';
import { datasetRunFiles, HAVE_DATASET } from '../helpers/dataset.js';

const MB = 1e6;

describe('precopyPlateauBytes (the writable working set)', () => {
  it('is the least recent pass start once the passes stop shrinking', () => {
    expect(precopyPlateauBytes([1000, 500, 230, 210, 220, 205, 215, 225].map((x) => x * MB))).toBe(205 * MB);
  });

  it('is undefined while the passes still shrink, and with too few passes to tell', () => {
    expect(precopyPlateauBytes([1000, 600, 360, 216, 130, 78].map((x) => x * MB))).toBeUndefined();
    expect(precopyPlateauBytes(Array.from({ length: PLATEAU_PASSES - 1 }, () => 200 * MB))).toBeUndefined();
  });
});

describe('projectedSwitchoverMs', () => {
  const state = { remainingBytes: 100 * MB, dirtyBytesPerS: 120 * MB, bandwidthBytesPerS: 135 * MB, sinceSyncMs: 0 };

  it('does not converge when the passes sit on a plateau above the switchover size, whatever ρ < 1 says', () => {
    const plateau = [300, 120, 90, 95, 88, 92, 97, 90].map((x) => x * MB);
    expect(switchoverInMs(state, 40 * MB)).toBeLessThan(Infinity);
    expect(projectedSwitchoverMs(state, 40 * MB, plateau)).toBe(Infinity);
  });

  it('projects with the shrink per pass QEMU showed rather than ρ of the poll', () => {
    // ρ = 120/135 ≈ 0.89, but the passes halved: 160 → 80 → 40 MB from the last start of 320 MB.
    const halving = [2560, 1280, 640, 320].map((x) => x * MB);
    expect(observedPassShrink(halving)).toBeCloseTo(0.5, 9);
    const ms = projectedSwitchoverMs(state, 40 * MB, halving);
    // The current pass's 100 MB, then passes of 160 and 80 MB; 40 MB fits.
    expect(ms).toBeCloseTo(((100 + 160 + 80) / 135) * 1000, 6);
    expect(ms).toBeLessThan(switchoverInMs(state, 40 * MB));
  });

  it('keeps the AVG projection before enough passes were seen', () => {
    expect(projectedSwitchoverMs(state, 40 * MB, [300 * MB, 200 * MB])).toBe(switchoverInMs(state, 40 * MB));
  });
});

describe.skipIf(!HAVE_DATASET)('the time to completion on the shared QEMU dataset', () => {
  const input = HAVE_DATASET ? qmpEvalInput(datasetRunFiles().map((file) => ({ file, text: readFileSync(file, 'utf8') }))) : undefined;

  it('covers ≥ 1 − α of polls leaving out one migration, and leaving out a whole scenario', () => {
    const loo = crossValidateTotalTime(input!.cases, 0.1, 'loo');
    const loco = crossValidateTotalTime(input!.cases, 0.1, 'category');
    console.log(`time to completion, α = 0.1: LOO ${JSON.stringify(loo)}; leave-one-scenario-out ${JSON.stringify(loco)}`);
    expect(loo.polls).toBe(9033);
    for (const r of [loo, loco]) {
      expect(r.coverage).toBeGreaterThanOrEqual(0.9);
      expect(r.coveragePerMigration).toBeGreaterThanOrEqual(0.9);
    }
    // The AVG projection alone: LOO bound 9.7× the actual, leave-one-scenario-out 6.7× at 78 % coverage.
    expect(loo.medianBoundOverActual).toBeLessThan(5);
    expect(loco.medianBoundOverActual).toBeLessThan(3);
    // Polls on a plateau are called non-converging (42 % with the AVG projection alone).
    expect(loo.nonConvergingShare).toBeGreaterThan(0.6);
  });
});
