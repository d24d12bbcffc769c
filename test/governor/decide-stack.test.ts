import { describe, expect, it } from 'vitest';
import { compileModel } from '../../src/estimators/compile.js';
import { fitModel } from '../../src/estimators/fit.js';
import { buildPriors } from '../../src/estimators/priors.js';
import { MigFlags, MigState } from '../../src/fsm/index.js';
import { decide } from '../../src/governor/decide.js';
import type { VmSnapshot } from '../../src/governor/types.js';
import type { TelemetryRecord } from '../../src/records/records.js';
import { DEFAULT_FLEET, simulateFleet, TestRng } from '../estimators/simulate.js';

const withStack = (ms: TelemetryRecord[][], qemuVersion: string): TelemetryRecord[] =>
  ms.flatMap((rs) => [{ kind: 'stack', migrationId: rs[0]?.migrationId ?? '', side: 'source', qemuVersion } as const, ...rs]);

describe('decide() with the snapshot’s QEMU version', () => {
  const rng = new TestRng(7);
  const model = compileModel(
    fitModel([...withStack(simulateFleet(rng, 40, 'a'), '10.0.2'), ...withStack(simulateFleet(rng, 40, 'b', { ...DEFAULT_FLEET, fixedMs: 60 }), '8.1.0')], buildPriors(), {
      fittedAt: '2026-12-01T00:00:00.000Z',
    }),
  );
  const snapshot: VmSnapshot = {
    devices: [{ id: 'src0', model: 'mlx5-cx7', state: MigState.PRE_COPY_P2P, flags: MigFlags.STOP_COPY | MigFlags.P2P | MigFlags.PRE_COPY, stopCopyBytes: 100e6, initialBytes: 0, dirtyBytes: 0 }],
    ramRemainingBytes: 20e6,
    ramDirtyBytesPerS: 20e6,
    precopyBandwidthBytesPerS: 134e6,
    elapsedMs: 10_000,
  };
  const slo = { deadlineMs: 5000, alpha: 0.1, budgetMs: 120_000 };

  it('says which calibration its bound used: the stack’s own, or pooled without a version', () => {
    expect(decide({ ...snapshot, qemuVersion: '10.0.2' }, model, slo).calibrationGroup).toBe('qemu10/mlx5-cx7');
    expect(decide(snapshot, model, slo).calibrationGroup).toBe('pooled');
  });

  it('counts STOP_COPY → STOP in the blackout for a QEMU before 8.2', () => {
    const old = decide({ ...snapshot, qemuVersion: '8.1.0' }, model, slo);
    expect(old.calibrationGroup).toBe('qemu8-pending2x/mlx5-cx7');
    expect(old.breakdown.some((p) => p.arc === 'STOP_COPY>STOP')).toBe(true);
    expect(decide({ ...snapshot, qemuVersion: '10.0.2' }, model, slo).breakdown.some((p) => p.arc === 'STOP_COPY>STOP')).toBe(false);
  });
});
