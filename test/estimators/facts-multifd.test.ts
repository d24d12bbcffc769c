import { describe, expect, it } from 'vitest';
import { collectMigrations, factsOf } from '../../src/estimators/migrations.js';
import type { TelemetryRecord } from '../../src/records/records.js';

/** Two devices into STOP_COPY one after another, then their destination loads at `loadStartsMs`. */
function migration(loadStartsMs: readonly [number, number]): TelemetryRecord[] {
  const arc = (deviceId: string, from: string, to: string, startedAtMs: number, latencyMs: number): TelemetryRecord =>
    ({ kind: 'arc', migrationId: 'm', deviceId, deviceModel: 'mlx5-cx7', from, to, startedAtMs, latencyMs, stopCopyBytes: 1e8, ok: true }) as TelemetryRecord;
  return [
    { kind: 'outcome', migrationId: 'm', policy: 'qemu', deadlineMs: 1000, decidedAtMs: 1000, predictedBlackoutMs: 500, actualBlackoutMs: 600, met: true },
    arc('a', 'PRE_COPY_P2P', 'STOP_COPY', 1000, 50),
    arc('b', 'PRE_COPY_P2P', 'STOP_COPY', 1050, 50),
    arc('dst-a', 'RESUMING', 'STOP', loadStartsMs[0], 100),
    arc('dst-b', 'RESUMING', 'STOP', loadStartsMs[1], 100),
  ];
}

describe('the recorded blackout query: where the device state went', () => {
  it('is multifd when the destination loads overlapped, the main channel when they ran one after another', () => {
    const facts = (starts: readonly [number, number]) => factsOf(collectMigrations(migration(starts)).get('m')!);
    expect(facts([1200, 1210]).query.deviceStateMultifd).toBe(true);
    expect(facts([1200, 1300]).query.deviceStateMultifd).toBe(false);
    expect(facts([1200, 1300]).query.serial).toBe(true);
  });
});
