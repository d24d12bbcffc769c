import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileModel } from '../../src/estimators/compile.js';
import { logRatioScore, scaledScore } from '../../src/estimators/conformal.js';
import { predictBlackout, unionBoundCoverage } from '../../src/estimators/predict.js';
import { buildPriors } from '../../src/estimators/priors.js';
import { logNormalResidualQuantiles } from '../../src/estimators/shrink.js';
import { RESIDUAL_QUANTILE_LEVELS, type ArcLatencyModel, type BlackoutDevice, type FittedModel } from '../../src/estimators/types.js';
import { MigFlags, MigState } from '../../src/fsm/index.js';

const ZERO = RESIDUAL_QUANTILE_LEVELS.map(() => 0);
const exact = (fixedMs: number, slopeMsPerByte = 0): ArcLatencyModel => ({ n: 100, fixedMs, slopeMsPerByte, residualQuantilesMs: ZERO, source: 'fitted' });
const ALL = MigFlags.STOP_COPY | MigFlags.P2P | MigFlags.PRE_COPY;

/** A model with zero spread, so medians are exact sums. */
function model(calibration?: FittedModel['calibration']): FittedModel {
  return {
    version: 1,
    name: 'exact',
    fittedAt: '2026-01-01T00:00:00.000Z',
    provenance: 'test',
    arcs: {
      nic: {
        'PRE_COPY>PRE_COPY_P2P': exact(10),
        'PRE_COPY_P2P>STOP_COPY': exact(40, 1e-6),
        'RESUMING>STOP': exact(60, 2e-6),
        'STOP>RUNNING_P2P': exact(8),
        'RUNNING_P2P>RUNNING': exact(5),
      },
      plain: { 'RUNNING>STOP': exact(3), 'STOP>STOP_COPY': exact(7), 'RESUMING>STOP': exact(11), 'STOP>RUNNING': exact(2) },
    },
    links: { default: { n: 10, medianBytesPerS: 1e9, lowBytesPerS: 1e9, source: 'fitted' } },
    fixed: { n: 10, medianMs: 15, residualQuantilesMs: ZERO, source: 'fitted' },
    ram: { n: 10, carryMs: 100, source: 'fitted' },
    ...(calibration === undefined ? {} : { calibration }),
  };
}

const nic = (id: string, bytes: number): BlackoutDevice => ({ id, model: 'nic', state: MigState.PRE_COPY, flags: ALL, stopCopyBytes: bytes });

describe('predictBlackout: the sum of the parts', () => {
  const c = compileModel(model());

  it('adds fixed cost, source arcs, transfer, destination load and restart', () => {
    const p = predictBlackout(c, { devices: [nic('a', 10_000_000)], ramRemainingBytes: 20_000_000, ramDirtyBytesPerS: 50_000_000 }, 0.1);
    // transfer: (20 MB + 50 MB/s × 0.1 s + 10 MB) / 1 GB/s = 35 ms; source 10 + 40 + 10; load 60 + 20; restart 13.
    expect(p.medianMs).toBeCloseTo(15 + 60 + 35 + 80 + 13, 9);
    expect(p.parts.map((x) => [x.kind, x.arc ?? ''])).toEqual([
      ['vcpu-stop', ''],
      ['arc', 'PRE_COPY>PRE_COPY_P2P'],
      ['arc', 'PRE_COPY_P2P>STOP_COPY'],
      ['dest-load', 'RESUMING>STOP'],
      ['restart', 'STOP>RUNNING_P2P'],
      ['restart', 'RUNNING_P2P>RUNNING'],
      ['transfer', ''],
    ]);
    expect(p.missing).toEqual([]);
    expect(p.calibrated).toBe(false);
  });

  it('follows the kernel path for the device flags (STOP_COPY only: RUNNING>STOP>STOP_COPY)', () => {
    const p = predictBlackout(c, { devices: [{ id: 'p', model: 'plain', state: MigState.RUNNING, flags: MigFlags.STOP_COPY, stopCopyBytes: 0 }], ramRemainingBytes: 0 }, 0.1);
    expect(p.parts.filter((x) => x.kind !== 'vcpu-stop' && x.kind !== 'transfer').map((x) => x.arc)).toEqual(['RUNNING>STOP', 'STOP>STOP_COPY', 'RESUMING>STOP', 'STOP>RUNNING']);
    expect(p.medianMs).toBeCloseTo(15 + 3 + 7 + 11 + 2, 9);
  });

  it('takes the slowest device per phase in parallel and the sum in series; the restart always in turn', () => {
    const devices = [nic('a', 10_000_000), nic('b', 30_000_000)];
    const par = predictBlackout(c, { devices, ramRemainingBytes: 0 }, 0.1);
    const ser = predictBlackout(c, { devices, ramRemainingBytes: 0, serial: true }, 0.1);
    const transfer = 40; // 40 MB at 1 GB/s
    // QEMU's destination starts its devices one after another (vm_state_notify), whoever stepped the source.
    expect(par.medianMs).toBeCloseTo(15 + (50 + 30) + transfer + (60 + 60) + 26, 9);
    expect(ser.medianMs).toBeCloseTo(15 + (60 + 80) + transfer + (80 + 120) + 26, 9);
  });
});

describe('predictBlackout: what it does not know', () => {
  const c = compileModel(model());

  it('lists an unknown device model, a missing arc, an impossible state and a link with no `default` to fall back to', () => {
    const { default: _pooled, ...noDefault } = model().links;
    const p = predictBlackout(
      compileModel({ ...model(), links: { ...noDefault, lan: { n: 3, medianBytesPerS: 1e9, lowBytesPerS: 1e9, source: 'fitted' } } }),
      {
        devices: [
          { id: 'x', model: 'gpu', state: MigState.RUNNING, flags: MigFlags.STOP_COPY, stopCopyBytes: 1 },
          { id: 'y', model: 'nic', state: MigState.RUNNING, flags: ALL, stopCopyBytes: 1 },
          { id: 'z', model: 'nic', state: MigState.ERROR, flags: ALL, stopCopyBytes: 1 },
        ],
        ramRemainingBytes: 0,
        link: 'wan',
      },
      0.1,
    );
    expect(p.missing).toEqual([
      'gpu',
      'nic:RUNNING>RUNNING_P2P',
      'nic:RUNNING_P2P>STOP',
      'nic:STOP>STOP_COPY',
      'z: no kernel path to STOP_COPY from state 0 with flags 7',
      'link:wan',
    ]);
    expect(p.calibrated).toBe(false);
  });

  it('predicts a link it does not know with the pooled `default` rate', () => {
    const q = { devices: [], ramRemainingBytes: 100_000_000 };
    const withLan = compileModel({ ...model(), links: { ...model().links, lan: { n: 50, medianBytesPerS: 10e9, lowBytesPerS: 9e9, source: 'fitted' } } });
    expect(predictBlackout(withLan, { ...q, link: 'wan' }, 0.1)).toEqual(predictBlackout(withLan, q, 0.1));
    expect(predictBlackout(withLan, { ...q, link: 'wan' }, 0.1).missing).toEqual([]);
    expect(predictBlackout(withLan, { ...q, link: 'lan' }, 0.1).medianMs).toBeCloseTo(15 + 10, 9);
    expect(predictBlackout(withLan, q, 0.1).medianMs).toBeCloseTo(15 + 100, 9);
  });

  it('refuses α outside (0, 1)', () => {
    expect(() => predictBlackout(c, { devices: [], ramRemainingBytes: 0 }, 0)).toThrow(/alpha/);
    expect(() => predictBlackout(c, { devices: [], ramRemainingBytes: 0 }, 1)).toThrow(/alpha/);
  });

  it('works from the shipped priors alone for every prior device model', () => {
    const priors = compileModel(buildPriors());
    for (const [model, flags] of [['mlx5-cx7', ALL], ['qat-vf', ALL], ['generic-nic', MigFlags.STOP_COPY]] as const) {
      const p = predictBlackout(priors, { devices: [{ id: 'd', model, state: MigState.RUNNING, flags, stopCopyBytes: 100_000_000 }], ramRemainingBytes: 50_000_000 }, 0.05);
      expect(p.missing).toEqual([]);
      expect(p.parts.every((x) => x.fromPrior)).toBe(true);
      expect(p.boundMs).toBeGreaterThan(p.medianMs);
    }
  });
});

describe('predictBlackout: the bound', () => {
  it('without calibration is the sum of part quantiles at 1 − α/k (union bound)', () => {
    const m = model();
    const spread = { ...m, fixed: { ...m.fixed, residualQuantilesMs: logNormalResidualQuantiles(15, 0.5) } };
    const p = predictBlackout(compileModel(spread), { devices: [], ramRemainingBytes: 0 }, 0.1);
    // Two parts (fixed, transfer of 0 bytes): the fixed cost at 1 − 0.05 = p95.
    expect(p.boundMs).toBeCloseTo(15 * Math.exp(1.6448536 * 0.5), 3);
    expect(p.parts[0]?.highMs).toBeCloseTo(p.boundMs, 9);
  });

  it('with calibration is median × exp(⌈(n+1)(1−α)⌉-th score)', () => {
    const scores = Array.from({ length: 19 }, (_, i) => (i + 1) / 100); // 0.01 … 0.19
    const c = compileModel(model({ logRatioScores: scores, n: 19, deviceModels: ['nic'], method: 'split' }));
    const q = { devices: [nic('a', 0)], ramRemainingBytes: 0 };
    const p = predictBlackout(c, q, 0.1); // rank ⌈20 × 0.9⌉ = 18 → 0.18
    expect(p.calibrated).toBe(true);
    expect(p.boundMs).toBeCloseTo(p.medianMs * Math.exp(0.18), 9);
    // α = 0.01 needs 99 scores: conservative instead.
    expect(predictBlackout(c, q, 0.01).calibrated).toBe(false);
  });

  it('with scaled scores is median + the ⌈(n+1)(1−α)⌉-th score × (transfer + VM-level + w × devices)', () => {
    const scores = Array.from({ length: 19 }, (_, i) => i + 1); // 1 … 19
    const c = compileModel(model({ logRatioScores: scores, n: 19, deviceModels: ['nic'], method: 'split', score: 'scaled', deviceScaleWeight: 0.1 }));
    // transfer (20 MB + 10 MB device state) / 1 GB/s = 30 ms; VM-level 15; devices 60 + 80 + 13 = 153.
    const p = predictBlackout(c, { devices: [nic('a', 10_000_000)], ramRemainingBytes: 20_000_000 }, 0.1);
    expect(p.medianMs).toBeCloseTo(30 + 15 + 153, 9);
    expect(p.scoreScaleMs).toBeCloseTo(30 + 15 + 15.3, 9);
    expect(p.boundMs).toBeCloseTo(p.medianMs + 18 * p.scoreScaleMs, 9); // rank 18 → 18
  });

  it('with scaled scores, a stall on a small VM widens a device VM by the stall, not by its ratio', () => {
    // 98 calibration migrations 5 % over their median, and one device-less VM (median 15 ms, its
    // VM-level cost; scale 15) that stalled for 150 ms: at α = 0.01 the bound is that stall's score.
    const pairs = [...Array.from({ length: 98 }, () => ({ actualMs: 105, medianMs: 100, scaleMs: 40 })), { actualMs: 165, medianMs: 15, scaleMs: 15 }];
    const cal = (scores: number[], scaled: boolean): FittedModel['calibration'] => ({
      logRatioScores: scores.sort((x, y) => x - y), n: scores.length, deviceModels: ['nic'], method: 'split',
      ...(scaled ? { score: 'scaled' as const, deviceScaleWeight: 0.1 } : {}),
    });
    const ratio = compileModel(model(cal(pairs.map((p) => logRatioScore(p.actualMs, p.medianMs)), false)));
    const scaled = compileModel(model(cal(pairs.map((p) => scaledScore(p.actualMs, p.medianMs, p.scaleMs)), true)));
    // A nic VM with nothing left to send: 15 VM-level + 123 device parts.
    const q = { devices: [nic('a', 0)], ramRemainingBytes: 0 };
    const r = predictBlackout(ratio, q, 0.01);
    const sc = predictBlackout(scaled, q, 0.01);
    expect(r.boundMs).toBeCloseTo(138 * 11, 6); // × (165 / 15)
    expect(sc.boundMs).toBeCloseTo(138 + 10 * (15 + 12.3), 6); // + 150 ms in units of 15 ms, at this VM's scale
    expect(r.boundMs).toBeGreaterThan(1000);
    expect(sc.boundMs).toBeLessThan(1000);
  });

  it('is not calibrated for a device model the calibration migrations never had', () => {
    const c = compileModel(model({ logRatioScores: Array(50).fill(0.1), n: 50, deviceModels: ['nic'] }));
    const plain = { id: 'p', model: 'plain', state: MigState.RUNNING, flags: MigFlags.STOP_COPY, stopCopyBytes: 0 };
    expect(predictBlackout(c, { devices: [plain], ramRemainingBytes: 0 }, 0.1).calibrated).toBe(false);
    expect(predictBlackout(c, { devices: [nic('a', 0)], ramRemainingBytes: 0 }, 0.1).calibrated).toBe(true);
  });

  it('never shrinks when RAM or device state grows, and never falls below the median', () => {
    const c = compileModel(buildPriors());
    fc.assert(
      fc.property(fc.nat(1e10), fc.nat(1e10), fc.nat(5e8), fc.double({ min: 0.001, max: 0.5, noNaN: true }), (ram1, extra, devBytes, alpha) => {
        const dev = { id: 'd', model: 'mlx5-cx7', state: MigState.PRE_COPY, flags: ALL, stopCopyBytes: devBytes };
        const a = predictBlackout(c, { devices: [dev], ramRemainingBytes: ram1 }, alpha);
        const b = predictBlackout(c, { devices: [dev], ramRemainingBytes: ram1 + extra }, alpha);
        const d = predictBlackout(c, { devices: [{ ...dev, stopCopyBytes: devBytes + extra }], ramRemainingBytes: ram1 }, alpha);
        expect(b.boundMs).toBeGreaterThanOrEqual(a.boundMs);
        expect(d.boundMs).toBeGreaterThanOrEqual(a.boundMs);
        expect(a.boundMs).toBeGreaterThanOrEqual(a.medianMs);
      }),
    );
  });
});

describe('predictBlackout: the floor of the union bound', () => {
  const spread = RESIDUAL_QUANTILE_LEVELS.map((p) => 100 * (p - 0.5));
  const spreadModel = (): FittedModel => ({
    ...model(),
    fixed: { n: 10, medianMs: 15, residualQuantilesMs: spread, source: 'fitted' },
    links: { default: { n: 10, medianBytesPerS: 1e9, lowBytesPerS: 0.9e9, source: 'fitted' } },
  });
  const q = { devices: [], ramRemainingBytes: 1e8 };

  it('stops widening the residual parts once α/k < 0.001, while the transfer keeps growing', () => {
    const m = compileModel(spreadModel());
    const at = (alpha: number) => predictBlackout(m, q, alpha);
    // k = 2 parts (fixed cost, transfer): α = 0.002 is exactly the floor, 0.0002 far below it.
    const floor = at(0.002);
    const below = at(0.0002);
    expect(below.calibrated).toBe(false);
    expect(below.parts[0]!.highMs).toBe(floor.parts[0]!.highMs);
    expect(floor.parts[0]!.highMs).toBeCloseTo(15 + 100 * (0.999 - 0.5), 9);
    expect(below.parts[1]!.highMs).toBeGreaterThan(floor.parts[1]!.highMs);
  });

  it('says which coverage the union bound keeps: 1 − α above the floor, 1 − k·0.001 below it', () => {
    expect(unionBoundCoverage(0.01, 2)).toBeCloseTo(0.99, 12);
    expect(unionBoundCoverage(0.01, 10)).toBeCloseTo(0.99, 12);
    expect(unionBoundCoverage(0.01, 14)).toBeCloseTo(1 - 14 * 0.001, 12);
    expect(unionBoundCoverage(0.0002, 2)).toBeCloseTo(0.998, 12);
  });
});
