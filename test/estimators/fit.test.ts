import { describe, expect, it } from 'vitest';
import { fitBlackout } from '../../src/estimators/blackout-fit.js';
import { compileModel } from '../../src/estimators/compile.js';
import { DEFAULT_SPLIT_ABOVE, fitModel } from '../../src/estimators/fit.js';
import { allMigrationFacts, migrationFacts } from '../../src/estimators/migrations.js';
import { predictBlackout } from '../../src/estimators/predict.js';
import { buildPriors } from '../../src/estimators/priors.js';
import { MigFlags, MigState } from '../../src/fsm/index.js';
import { DEFAULT_FLEET, MB, simulateFleet, simulateMigration, TestRng } from './simulate.js';

describe('migrationFacts', () => {
  it('rebuilds the query the governor would have asked at the decision', () => {
    const recs = simulateMigration(new TestRng(1), 'm1');
    const f = migrationFacts('m1', recs);
    const ram = recs.filter((r) => r.kind === 'ram').at(-1);
    expect(f.decisionRam).toBe(ram);
    expect(f.query.ramRemainingBytes).toBe(ram?.kind === 'ram' ? ram.remainingBytes : -1);
    expect(f.query.devices).toEqual([
      expect.objectContaining({ id: 'src0', model: 'mlx5-cx7', state: MigState.PRE_COPY, flags: MigFlags.STOP_COPY | MigFlags.P2P | MigFlags.PRE_COPY }),
    ]);
    const arcsMs = recs.reduce((s, r) => s + (r.kind === 'arc' ? r.latencyMs : 0), 0);
    expect(f.blackoutArcsMs).toBeCloseTo(arcsMs, 9);
    expect(f.blackoutBytes).toBe(recs.reduce((s, r) => s + (r.kind === 'transfer' ? r.bytes : 0), 0));
  });

  it('measures parallel device arcs by the wall time they cover', () => {
    const recs = simulateMigration(new TestRng(2), 'm2', { ...DEFAULT_FLEET, devicesPerVm: 3 });
    const f = migrationFacts('m2', recs);
    const sum = recs.reduce((s, r) => s + (r.kind === 'arc' ? r.latencyMs : 0), 0);
    expect(f.query.devices).toHaveLength(3);
    expect(f.query.serial).toBe(false);
    expect(f.blackoutArcsMs).toBeLessThan(sum / 2);
  });
});

describe('fitBlackout: recovering known parameters', () => {
  const facts = allMigrationFacts(simulateFleet(new TestRng(3), 400, 'fleet').flat());

  it('learns the blackout rate, the fixed cost and the RAM carry from blackouts alone', () => {
    const fit = fitBlackout(facts, [], {});
    expect(fit.link?.n).toBe(400);
    expect(Math.abs((fit.link?.medianBytesPerS ?? 0) / DEFAULT_FLEET.blackoutBytesPerS - 1)).toBeLessThan(0.1);
    expect(fit.link?.lowBytesPerS).toBeLessThan(fit.link?.medianBytesPerS ?? 0);
    expect(Math.abs(fit.fixed.medianMs / DEFAULT_FLEET.fixedMs - 1)).toBeLessThan(0.15);
    expect(Math.abs((fit.ram?.carryMs ?? 0) / DEFAULT_FLEET.carryMs - 1)).toBeLessThan(0.1);
  });

  it('falls back to the priors with no blackouts at all', () => {
    const priors = buildPriors();
    const fit = fitBlackout([], [], { link: priors.links['default'], fixed: priors.fixed, ram: priors.ram });
    expect(fit.link).toBe(priors.links['default']);
    expect(fit.fixed).toBe(priors.fixed);
    expect(fit.ram).toBe(priors.ram);
  });

  it('never takes the rate from pre-copy transfers', () => {
    const fit = fitBlackout([], [{ kind: 'transfer', migrationId: 'x', deviceId: 'ram', phase: 'precopy', bytes: 1e9, durationMs: 8000 }], {});
    expect(fit.link).toBeUndefined();
  });
});

describe('fitModel', () => {
  it('fits the fleet end to end: arcs, link, fixed cost and a cross-fit calibration', () => {
    const model = fitModel(simulateFleet(new TestRng(4), 120, 'f').flat(), buildPriors(), { name: 'sim', fittedAt: '2026-02-01T00:00:00.000Z' });
    expect(model).toMatchObject({ version: 1, name: 'sim', fittedAt: '2026-02-01T00:00:00.000Z' });
    const save = model.arcs['mlx5-cx7']?.['PRE_COPY_P2P>STOP_COPY'];
    expect(save?.source).toBe('shrunk');
    expect(Math.abs((save?.slopeMsPerByte ?? 0) / (0.4 / MB) - 1)).toBeLessThan(0.15);
    expect(model.calibration).toMatchObject({ n: 120, method: 'cross-fit', deviceModels: ['mlx5-cx7'] });
  });

  it('cross-fits 600 migrations by default: every one scores (a split would keep a fifth)', () => {
    const model = fitModel(simulateFleet(new TestRng(5), 600, 's').flat(), buildPriors());
    expect(model.calibration).toMatchObject({ method: 'cross-fit', n: 600 });
    expect(DEFAULT_SPLIT_ABOVE).toBe(5000);
  });

  it('calibrates by split once there are many migrations', () => {
    const model = fitModel(simulateFleet(new TestRng(5), 600, 's').flat(), buildPriors(), { splitAbove: 500 });
    expect(model.calibration?.method).toBe('split');
    expect(model.calibration?.n).toBeGreaterThan(80);
    expect(model.calibration?.n).toBeLessThan(160);
  });

  it('predicts a held-out migration close to its actual blackout', () => {
    const rng = new TestRng(6);
    const model = compileModel(fitModel(simulateFleet(rng, 200, 't').flat(), buildPriors()));
    const held = simulateFleet(rng, 200, 'h');
    const ratios = held.map((recs) => {
      const f = migrationFacts('h', recs);
      const p = predictBlackout(model, f.query, 0.1);
      expect(p.missing).toEqual([]);
      return p.medianMs / (f.outcome?.actualBlackoutMs ?? 1);
    });
    ratios.sort((a, b) => a - b);
    expect(ratios[100]).toBeGreaterThan(0.9);
    expect(ratios[100]).toBeLessThan(1.1);
  });
});
