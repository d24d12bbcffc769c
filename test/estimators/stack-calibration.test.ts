/**
 * Calibration keyed by stack: two stacks on one device model, the QEMU 10 one as the default
 * simulated fleet and a QEMU 9.1.1 one (pre-copy bytes counted twice in its pending size, so it
 * switched over elsewhere) with a larger, noisier fixed cost. Fitted on 120 + 60 migrations and
 * judged on 300 fresh migrations of the second stack, seeds 1–10.
 */
import { describe, expect, it } from 'vitest';
import { compileModel } from '../../src/estimators/compile.js';
import { fitModel } from '../../src/estimators/fit.js';
import { migrationFacts } from '../../src/estimators/migrations.js';
import { parseModelJson, stringifyModel } from '../../src/estimators/model-json.js';
import { POOLED, predictBlackout } from '../../src/estimators/predict.js';
import { buildPriors } from '../../src/estimators/priors.js';
import { MIN_STACK_CALIBRATION } from '../../src/estimators/types.js';
import type { TelemetryRecord } from '../../src/records/records.js';
import { DEFAULT_FLEET, simulateFleet, TestRng, type FleetTruth } from './simulate.js';

const OLD: FleetTruth = { ...DEFAULT_FLEET, fixedMs: 60, fixedSigma: 0.9 };
const NEW_KEY = 'qemu10/mlx5-cx7';
const OLD_KEY = 'qemu9-pending2x/mlx5-cx7';

/** A fleet's migrations, each with its source QEMU's `stack` record. */
function onStack(migrations: TelemetryRecord[][], qemuVersion: string): TelemetryRecord[][] {
  return migrations.map((rs) => [{ kind: 'stack', migrationId: rs[0]?.migrationId ?? '', side: 'source', qemuVersion }, ...rs]);
}

function fitTwoStacks(seed: number, nOld = 60) {
  const rng = new TestRng(seed);
  const records = [...onStack(simulateFleet(rng, 120, `new${seed}`), '10.0.2'), ...onStack(simulateFleet(rng, nOld, `old${seed}`, OLD), '9.1.1')].flat();
  return fitModel(records, buildPriors(), { fittedAt: '2026-12-01T00:00:00.000Z' });
}

describe('calibration keyed by stack', () => {
  it('keeps each stack’s scores when it has enough, and says which group a bound used', () => {
    const model = fitTwoStacks(1);
    const byStack = model.calibration?.byStack ?? {};
    expect(Object.keys(byStack).sort()).toEqual([OLD_KEY, NEW_KEY].sort());
    expect(byStack[OLD_KEY]?.n).toBe(60);
    expect(byStack[NEW_KEY]?.n).toBe(120);
    expect(model.calibration?.n).toBe(180);
    // Round-trips through the model file.
    expect(parseModelJson(stringifyModel(model)).calibration?.byStack).toEqual(byStack);
    const compiled = compileModel(model);
    const facts = migrationFacts('old1-0', onStack(simulateFleet(new TestRng(99), 1, 'old1', OLD), '9.1.1')[0] ?? []);
    expect(facts.stack).toBe(OLD_KEY);
    expect(predictBlackout(compiled, { ...facts.query, stack: facts.stack }, 0.1).calibrationGroup).toBe(OLD_KEY);
    // 60 scores give no rank at α = 0.01 (99 needed): the pooled 180 do.
    expect(predictBlackout(compiled, { ...facts.query, stack: facts.stack }, 0.01).calibrationGroup).toBe(POOLED);
    expect(predictBlackout(compiled, facts.query, 0.1).calibrationGroup).toBe(POOLED);
    expect(predictBlackout(compiled, { ...facts.query, stack: 'qemu?/mlx5-cx7' }, 0.1).calibrationGroup).toBe(POOLED);
  });

  it(`leaves a stack with fewer than ${MIN_STACK_CALIBRATION} scored migrations to the pooled calibration`, () => {
    const model = fitTwoStacks(2, MIN_STACK_CALIBRATION - 1);
    expect(Object.keys(model.calibration?.byStack ?? {})).toEqual([NEW_KEY]);
  });

  it('covers the noisier stack’s fresh migrations at 1 − α with its own scores, where the pooled ones fall short (seeds 1–10)', () => {
    const alpha = 0.1;
    const own: number[] = [];
    const pooled: number[] = [];
    for (let seed = 1; seed <= 10; seed++) {
      const compiled = compileModel(fitTwoStacks(seed));
      const fresh = onStack(simulateFleet(new TestRng(1000 + seed), 300, `fresh${seed}`, OLD), '9.1.1');
      let hitOwn = 0;
      let hitPooled = 0;
      for (const rs of fresh) {
        const f = migrationFacts(rs[0]?.migrationId ?? '', rs);
        const actual = f.outcome?.actualBlackoutMs ?? NaN;
        const p = predictBlackout(compiled, { ...f.query, stack: f.stack }, alpha);
        expect(p.calibrationGroup).toBe(OLD_KEY);
        if (actual <= p.boundMs) hitOwn++;
        if (actual <= predictBlackout(compiled, f.query, alpha).boundMs) hitPooled++;
      }
      own.push(hitOwn / fresh.length);
      pooled.push(hitPooled / fresh.length);
    }
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    console.info(`stack calibration, old stack coverage at α = ${alpha}, seeds 1–10: own ${own.map((c) => c.toFixed(3)).join(' ')} (mean ${mean(own).toFixed(3)}); pooled ${pooled.map((c) => c.toFixed(3)).join(' ')} (mean ${mean(pooled).toFixed(3)})`);
    expect(mean(own)).toBeGreaterThanOrEqual(1 - alpha - 0.03);
    expect(mean(own)).toBeGreaterThan(mean(pooled));
  });
});
