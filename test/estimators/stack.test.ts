import { describe, expect, it } from 'vitest';
import { compileModel } from '../../src/estimators/compile.js';
import { migrationFacts } from '../../src/estimators/migrations.js';
import { predictBlackout } from '../../src/estimators/predict.js';
import { buildPriors } from '../../src/estimators/priors.js';
import { arcPlacement, pendingCountsPrecopyTwice, stackKey } from '../../src/estimators/stack.js';
import { MigFlags, MigState } from '../../src/fsm/index.js';
import type { ArcRecord, TelemetryRecord } from '../../src/records/records.js';

describe('where the source’s STOP_COPY → STOP runs, by QEMU version', () => {
  it.each([
    ['8.1.5', 'inside', false],
    ['7.2.22', 'inside', false],
    ['8.2.0', 'outside', false],
    ['10.0.2', 'outside', false],
    [undefined, 'outside', true],
  ] as const)('QEMU %s: %s the blackout (assumed: %s)', (version, placement, assumed) => {
    expect(arcPlacement(version)).toEqual({ stopCopyToStop: placement, assumed });
  });
});

describe('which QEMU counted pre-copy bytes twice in the VFIO pending size', () => {
  it.each([
    ['8.2.7', true],
    ['9.0.3', true],
    ['9.0.4', false],
    ['9.1.1', true],
    ['9.1.2', false],
    ['9.2.0', false],
    ['10.0.2', false],
    [undefined, undefined],
  ] as const)('QEMU %s: %s', (version, twice) => {
    expect(pendingCountsPrecopyTwice(version)).toBe(twice);
  });

  it('keys a stack by QEMU major, pending-size semantics and device models', () => {
    expect(stackKey('10.0.2', ['mtty'])).toBe('qemu10/mtty');
    expect(stackKey('9.1.1', ['qat-vf', 'mlx5-cx7', 'qat-vf'])).toBe('qemu9-pending2x/mlx5-cx7+qat-vf');
    expect(stackKey('9.1.2', [])).toBe('qemu9/none');
    expect(stackKey(undefined, ['mtty'])).toBe('qemu?/mtty');
  });
});

/** One migration with an mlx5 VF: decision at 990 ms, the source's arcs into STOP_COPY and out, the destination's load. */
function migration(qemuVersion: string | undefined): TelemetryRecord[] {
  const arc = (from: string, to: string, startedAtMs: number, latencyMs: number, deviceId = 'src0'): ArcRecord => ({
    kind: 'arc',
    migrationId: 'm',
    deviceId,
    deviceModel: 'mlx5-cx7',
    from,
    to,
    startedAtMs,
    latencyMs,
    stopCopyBytes: 1 << 20,
    ok: true,
  });
  return [
    ...(qemuVersion === undefined ? [] : [{ kind: 'stack', migrationId: 'm', side: 'source', qemuVersion } as const]),
    arc('PRE_COPY', 'PRE_COPY_P2P', 1000, 4),
    arc('PRE_COPY_P2P', 'STOP_COPY', 1004, 10),
    arc('STOP_COPY', 'STOP', 1050, 30),
    arc('STOP', 'RESUMING', 500, 2, 'dst0'),
    arc('RESUMING', 'STOP', 1100, 5, 'dst0'),
    { kind: 'outcome', migrationId: 'm', policy: 'qemu', deadlineMs: 300, decidedAtMs: 990, predictedBlackoutMs: 100, actualBlackoutMs: 200, met: true },
  ];
}

describe('arcs inside the blackout', () => {
  it('counts STOP_COPY → STOP inside the blackout before QEMU 8.2, and tags it so', () => {
    const f = migrationFacts('m', migration('8.1.0'));
    expect(f.blackoutArcsMs).toBe(4 + 10 + 30 + 5);
    expect(f.arcInsideBlackout).toEqual([true, true, true, false, true]);
    expect(f.placement).toEqual({ stopCopyToStop: 'inside', assumed: false });
    expect(f.query.stopCopyToStopInBlackout).toBe(true);
    expect(f.stack).toBe('qemu8-pending2x/mlx5-cx7');
  });

  it('leaves it out from QEMU 8.2 on, and assumes so (saying it) when the version is unknown', () => {
    for (const version of ['8.2.0', '10.0.2', undefined]) {
      const f = migrationFacts('m', migration(version));
      expect(f.blackoutArcsMs, String(version)).toBe(4 + 10 + 5);
      expect(f.arcInsideBlackout).toEqual([true, true, false, false, true]);
      expect(f.placement.assumed).toBe(version === undefined);
      expect(f.query).not.toHaveProperty('stopCopyToStopInBlackout');
    }
  });

  it('predicts the arc as part of the blackout for a QEMU that runs it there', () => {
    const model = compileModel(buildPriors());
    const q = { devices: [{ id: 'src0', model: 'mlx5-cx7', state: MigState.PRE_COPY_P2P, flags: MigFlags.STOP_COPY | MigFlags.P2P | MigFlags.PRE_COPY, stopCopyBytes: 1 << 20 }], ramRemainingBytes: 0 };
    const now = predictBlackout(model, q, 0.1);
    const old = predictBlackout(model, { ...q, stopCopyToStopInBlackout: true }, 0.1);
    const stop = old.parts.find((p) => p.arc === 'STOP_COPY>STOP');
    expect(now.parts.some((p) => p.arc === 'STOP_COPY>STOP')).toBe(false);
    expect(stop?.medianMs).toBeGreaterThan(0);
    expect(old.medianMs).toBeCloseTo(now.medianMs + (stop?.medianMs ?? NaN), 9);
  });
});
