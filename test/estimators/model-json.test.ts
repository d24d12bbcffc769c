import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EstimatorError } from '../../src/estimators/errors.js';
import { fitModel } from '../../src/estimators/fit.js';
import { parseFittedModel, parseModelJson, stringifyModel } from '../../src/estimators/model-json.js';
import { buildPriors } from '../../src/estimators/priors.js';
import { simulateFleet, TestRng } from './simulate.js';

const PRIORS_FILE = join(import.meta.dirname, '../../models/priors.json');

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return e instanceof EstimatorError ? `${e.code}: ${e.message}` : String(e);
  }
  return undefined;
}

describe('model JSON', () => {
  it('round-trips a fitted, calibrated model', () => {
    const model = fitModel(simulateFleet(new TestRng(1), 30, 'm').flat(), buildPriors(), { name: 'rt' });
    expect(parseModelJson(stringifyModel(model))).toEqual(model);
  });

  it('round-trips scaled calibration scores with their device weight, and names a missing weight', () => {
    const model = fitModel(simulateFleet(new TestRng(1), 30, 'm').flat(), buildPriors(), { name: 'rt', score: 'scaled', deviceScaleWeight: 0.2 });
    expect(model.calibration).toMatchObject({ score: 'scaled', deviceScaleWeight: 0.2 });
    expect(parseModelJson(stringifyModel(model))).toEqual(model);
    const json = JSON.parse(stringifyModel(model));
    delete json.calibration.deviceScaleWeight;
    expect(codeOf(() => parseFittedModel(json))).toMatch(/^E_BAD_MODEL: model\.calibration\.deviceScaleWeight: expected a number ≥ 0 with score: scaled/);
    json.calibration.score = 'ratio';
    expect(codeOf(() => parseFittedModel(json))).toMatch(/^E_BAD_MODEL: model\.calibration\.score: expected log-ratio\|scaled/);
  });

  it('ships models/priors.json exactly as buildPriors() writes it', () => {
    expect(readFileSync(PRIORS_FILE, 'utf8')).toBe(stringifyModel(buildPriors()));
  });

  it('labels every prior with where its numbers come from', () => {
    const p = parseModelJson(readFileSync(PRIORS_FILE, 'utf8'));
    const labelled = [
      ...Object.values(p.arcs).flatMap((arcs) => Object.values(arcs)),
      ...Object.values(p.links),
      p.fixed,
      ...(p.ram === undefined ? [] : [p.ram]),
    ];
    expect(labelled.length).toBeGreaterThan(30);
    for (const m of labelled) {
      expect(m.source).toBe('prior');
      expect(m.n).toBe(0);
      expect((m.provenance ?? '').length).toBeGreaterThan(30);
    }
  });

  it('refuses another version with E_MODEL_VERSION', () => {
    const json = { ...JSON.parse(stringifyModel(buildPriors())), version: 2 };
    expect(codeOf(() => parseFittedModel(json, 'models/x.json'))).toMatch(/^E_MODEL_VERSION: models\/x.json: model version 2, this vfio-sla reads version 1/);
  });

  it('keeps a learned pre-copy time error, sorted, and names a bad score', () => {
    const model = { ...buildPriors(), precopyTime: { n: 3, logRatioScores: [0.5, -0.2, 0.1], provenance: 'test' } };
    expect(parseModelJson(stringifyModel(model)).precopyTime).toEqual({ n: 3, logRatioScores: [-0.2, 0.1, 0.5], provenance: 'test' });
    const json = JSON.parse(stringifyModel(model));
    json.precopyTime.logRatioScores[1] = 'x';
    expect(codeOf(() => parseFittedModel(json))).toMatch(/^E_BAD_MODEL: model\.precopyTime\.logRatioScores\[1\]: expected a finite number/);
  });

  it('names the bad field with E_BAD_MODEL', () => {
    const json = JSON.parse(stringifyModel(buildPriors()));
    json.arcs['mlx5-cx7']['RESUMING>STOP'].residualQuantilesMs = [1, 2];
    expect(codeOf(() => parseFittedModel(json))).toMatch(/^E_BAD_MODEL: model\.arcs\.mlx5-cx7\.RESUMING>STOP\.residualQuantilesMs: expected 10 numbers/);
    json.arcs['mlx5-cx7']['RESUMING>STOP'] = { ...json.arcs['mlx5-cx7']['STOP>RESUMING'], slopeMsPerByte: -1 };
    expect(codeOf(() => parseFittedModel(json))).toMatch(/slopeMsPerByte: expected a finite number ≥ 0/);
    expect(codeOf(() => parseModelJson('{'))).toMatch(/^E_BAD_MODEL: model: not JSON/);
  });
});
