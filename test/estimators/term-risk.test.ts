import { describe, expect, it } from 'vitest';
import { compileModel } from '../../src/estimators/compile.js';
import { fitModel } from '../../src/estimators/fit.js';
import { migrationFacts } from '../../src/estimators/migrations.js';
import { parseFittedModel } from '../../src/estimators/model-json.js';
import { blackoutMissProbability, predictBlackout } from '../../src/estimators/predict.js';
import { buildPriors } from '../../src/estimators/priors.js';
import {
  compileTerms,
  MIN_REST_SCALE_MS,
  MIN_TERM_CALIBRATION,
  restScaleMs,
  TERM_REST_SPREAD_LEVEL,
  TERM_REST_SPREAD_WEIGHT,
  termCalibration,
  termBound,
  termExceedance,
  termQuantile,
  type CompiledTerms,
  type TermQuery,
  type TermRow,
} from '../../src/estimators/term-risk.js';
import type { FittedModel } from '../../src/estimators/types.js';
import type { TelemetryRecord } from '../../src/records/records.js';
import { simulateFleet, TestRng } from './simulate.js';

/** P(rest + scale·S + transfer·F > limit) over every pair, the slow way. */
function bruteExceedance(t: CompiledTerms, q: TermQuery, limitMs: number): number {
  const f = t.transferFactors.length === 0 ? [1] : [...t.transferFactors];
  let count = 0;
  for (const fi of f) for (const sj of t.restScores) if (q.restMs + q.restScaleMs * sj + q.transferMs * fi > limitMs) count++;
  return count / (f.length * t.restScores.length);
}

function randomTerms(rng: TestRng, n: number, m: number): CompiledTerms {
  return compileTerms({
    n: m,
    transferFactors: Array.from({ length: n }, () => rng.lognormal(0.3) * (rng.chance(0.1) ? rng.uniform(1.5, 3) : 1)),
    restScores: Array.from({ length: m }, () => (rng.chance(0.05) ? rng.uniform(10, 50) : rng.normal())),
    restSpreadWeight: 0.3,
  });
}

describe('the blackout terms (term-risk.ts)', () => {
  it('counts the pairs that exceed a limit exactly, as the slow double loop does', () => {
    const rng = new TestRng(7);
    for (let k = 0; k < 200; k++) {
      const terms = randomTerms(rng, Math.floor(rng.uniform(0, 40)), 1 + Math.floor(rng.uniform(0, 40)));
      const q = { restMs: rng.uniform(1, 300), restScaleMs: rng.uniform(1, 60), transferMs: rng.uniform(0, 500) };
      const limit = rng.uniform(0, 1500);
      expect(termExceedance(terms, q, limit)).toBeCloseTo(bruteExceedance(terms, q, limit), 12);
    }
  });

  it('bounds at the smallest blackout exceeded with probability ≤ α', () => {
    const rng = new TestRng(8);
    for (let k = 0; k < 100; k++) {
      const terms = randomTerms(rng, 30, 30);
      const q = { restMs: rng.uniform(1, 300), restScaleMs: rng.uniform(1, 60), transferMs: rng.uniform(0, 500) };
      const alpha = rng.uniform(0.001, 0.3);
      const b = termQuantile(terms, q, alpha);
      expect(termExceedance(terms, q, b)).toBeLessThanOrEqual(alpha);
      // Within the bisection's tolerance of it, more pairs exceed.
      expect(termExceedance(terms, q, b - Math.max(0.02, 2e-5 * b))).toBeGreaterThan(alpha);
      expect(termQuantile(terms, q, alpha / 2)).toBeGreaterThanOrEqual(b);
    }
  });

  it('bounds fast at or above the exact quantile, by at most 0.5 % of the transfer', () => {
    const rng = new TestRng(9);
    const terms = randomTerms(rng, 40, 40);
    for (let k = 0; k < 300; k++) {
      const q = { restMs: rng.uniform(1, 300), restScaleMs: rng.uniform(1, 60), transferMs: rng.chance(0.1) ? 0 : rng.uniform(0, 500) };
      const alpha = [0.01, 0.05, 0.2][k % 3]!;
      const exact = termQuantile(terms, q, alpha);
      const fast = termBound(terms, q, alpha);
      expect(fast).toBeGreaterThanOrEqual(exact - 0.02);
      expect(fast).toBeLessThanOrEqual(exact + 0.005 * q.transferMs * terms.transferFactors[terms.transferFactors.length - 1]! + 0.02);
      // Remembered: asked again, the same.
      expect(termBound(terms, q, alpha)).toBe(fast);
    }
    expect(terms.memo.size).toBe(3);
  });

  it('learns only from migrations whose transfer was timed apart from the blackout, and needs 50 of them', () => {
    const row = (i: number, transferMs: number): TermRow => ({ transferMedianMs: 100, restMedianMs: 30, fixedMedianMs: 10, deviceSpreadMs: 20, transferMs, actualMs: 140 + (i % 7) });
    const timed = Array.from({ length: MIN_TERM_CALIBRATION }, (_, i) => row(i, 90 + i));
    // A QMP import's transfer lasts the whole downtime: it says nothing about the transfer alone.
    const untimed = Array.from({ length: 40 }, (_, i) => row(i, 140 + (i % 7)));
    const t = termCalibration([...timed, ...untimed])!;
    expect(t.n).toBe(MIN_TERM_CALIBRATION);
    expect(t.transferFactors).toHaveLength(MIN_TERM_CALIBRATION);
    expect(t.transferFactors[0]).toBeCloseTo(0.9, 12);
    expect([...t.restScores]).toEqual([...t.restScores].sort((a, b) => a - b));
    // rest score = (actual − transfer − rest median) / (fixed + 0.3 × device spread).
    expect(t.restScores).toContainEqual((140 - 90 - 30) / restScaleMs(10, 20, 0.3));
    expect(restScaleMs(10, 20, 0.3)).toBeCloseTo(16, 12);
    // No devices: the fixed part alone; never below a millisecond.
    expect(restScaleMs(10, 0, 0.3)).toBe(10);
    expect(restScaleMs(0, 0, 0.3)).toBe(MIN_REST_SCALE_MS);
    expect(restScaleMs(0.2, 1, 0.3)).toBe(1);
    expect(termCalibration(timed.slice(1))).toBeUndefined();
    expect(termCalibration(untimed)).toBeUndefined();
    // A transfer predicted below 0.5 ms gives a rest score but no factor.
    const tiny = termCalibration(timed.map((r) => ({ ...r, transferMedianMs: 0.1 })))!;
    expect(tiny.transferFactors).toHaveLength(0);
    expect(tiny.restScores).toHaveLength(MIN_TERM_CALIBRATION);
  });
});

/** `model` with its calibration's terms left out. */
function withoutTerms(model: FittedModel): FittedModel {
  const { terms: _terms, ...calibration } = model.calibration!;
  return { ...model, calibration };
}

describe('a model fitted with timed transfers', () => {
  const model = fitModel(simulateFleet(new TestRng(100), 1000, 'train').flat(), buildPriors(), { splitAbove: 500 });
  const conformal = compileModel(model);
  const byTerms = compileModel(model, { bound: 'terms' });
  const tests = simulateFleet(new TestRng(300), 3000, 'test').map((recs) => migrationFacts('test', recs));

  it('has terms, read back from its JSON as written, and a bad one is refused by name', () => {
    const terms = model.calibration!.terms!;
    expect(terms.n).toBe(model.calibration!.n);
    expect(terms.restSpreadWeight).toBe(TERM_REST_SPREAD_WEIGHT);
    expect(parseFittedModel(JSON.parse(JSON.stringify(model))).calibration!.terms).toEqual(terms);
    const bad = (over: object): unknown => JSON.parse(JSON.stringify({ ...model, calibration: { ...model.calibration, terms: { ...terms, ...over } } }));
    expect(() => parseFittedModel(bad({ restScores: [0, 'x'] }), 'm.json')).toThrow('m.json.calibration.terms.restScores[1]: expected a finite number');
    expect(() => parseFittedModel(bad({ transferFactors: [-1] }), 'm.json')).toThrow('m.json.calibration.terms.transferFactors[0]: expected a finite number ≥ 0');
    expect(() => parseFittedModel(bad({ restScores: [] }), 'm.json')).toThrow('m.json.calibration.terms.restScores: expected at least one score');
    // Terms of an older fit (rest scaled by its median) are refused, not misread.
    const older = (): unknown => {
      const { restSpreadWeight: _w, ...rest } = terms;
      return JSON.parse(JSON.stringify({ ...model, calibration: { ...model.calibration, terms: { ...rest, restDeviceWeight: 0.2 } } }));
    };
    expect(() => parseFittedModel(older(), 'm.json')).toThrow('m.json.calibration.terms.restSpreadWeight: missing: these terms scale the rest by its median');
  });

  it('has no terms when every transfer lasted the whole blackout (what a QMP import records)', () => {
    const untimed = simulateFleet(new TestRng(100), 200, 'train').map((recs) => {
      const actual = recs.find((r) => r.kind === 'outcome')!.actualBlackoutMs;
      return recs.map((r): TelemetryRecord => (r.kind === 'transfer' && r.phase === 'stopcopy' ? { ...r, durationMs: actual } : r));
    });
    const m = fitModel(untimed.flat(), buildPriors());
    expect(m.calibration).toBeDefined();
    expect(m.calibration!.terms).toBeUndefined();
    expect(compileModel(m, { bound: 'terms' }).termsBound).toBe(false);
  });

  it('bounds by the terms only when compiled for them, and their bound covers new migrations at 1 − α', () => {
    expect(conformal.termsBound).toBe(false);
    expect(byTerms.termsBound).toBe(true);
    for (const alpha of [0.05, 0.1]) {
      let covered = 0;
      for (const f of tests) {
        const p = predictBlackout(byTerms, f.query, alpha);
        expect(p.calibrated).toBe(true);
        if (f.outcome!.actualBlackoutMs <= p.boundMs) covered++;
      }
      const sd = Math.sqrt((alpha * (1 - alpha)) / tests.length);
      expect(covered / tests.length).toBeGreaterThan(1 - alpha - 4 * sd - 0.01);
      expect(covered / tests.length).toBeLessThan(1 - alpha + 4 * sd + 0.01);
    }
    // The conformal compile is what it was: the terms do not touch its bound.
    const q = tests[0]!.query;
    expect(predictBlackout(conformal, q, 0.05).boundMs).toBe(predictBlackout(compileModel(withoutTerms(model)), q, 0.05).boundMs);
  });

  it("scales each VM's rest by its device arcs' spread: each arc's quantile at 0.9 above its median, summed", () => {
    const withDevices = tests.map((f) => f.query).filter((q) => q.devices.length > 0);
    expect(withDevices.length).toBeGreaterThan(100);
    let checked = 0;
    for (const q of withDevices.slice(0, 100)) {
      // At α = (1 − 0.9) × parts each part's high is its quantile at 0.9 (the union bound's level).
      const k = predictBlackout(conformal, q, 0.5).parts.length;
      if ((1 - TERM_REST_SPREAD_LEVEL) * k >= 1) continue;
      const p = predictBlackout(conformal, q, (1 - TERM_REST_SPREAD_LEVEL) * k);
      const spread = p.parts.filter((x) => x.kind !== 'transfer' && x.kind !== 'vcpu-stop').reduce((sum, x) => sum + x.highMs - x.medianMs, 0);
      expect(p.deviceSpreadMs).toBeCloseTo(spread, 6);
      expect(p.deviceSpreadMs).toBeGreaterThan(0);
      checked++;
    }
    expect(checked).toBeGreaterThan(20);
    expect(predictBlackout(conformal, { ...withDevices[0]!, devices: [] }, 0.1).deviceSpreadMs).toBe(0);
  });

  it('gives each VM a miss probability that falls as its limit rises and agrees with its bound', () => {
    const q = tests[1]!.query;
    const bound = predictBlackout(byTerms, q, 0.02).boundMs;
    expect(blackoutMissProbability(conformal, q, bound)).toBeLessThanOrEqual(0.02);
    let last = 1;
    for (const limit of [0, bound / 2, bound, 2 * bound]) {
      const p = blackoutMissProbability(byTerms, q, limit)!;
      expect(p).toBeLessThanOrEqual(last);
      last = p;
    }
    expect(last).toBe(0);
    expect(blackoutMissProbability(byTerms, { ...q, devices: [{ ...q.devices[0]!, model: 'unknown-vf' }] }, 1e9)).toBe(1);
    expect(blackoutMissProbability(compileModel(withoutTerms(model)), q, bound)).toBeUndefined();
  });
});
