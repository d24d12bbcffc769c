import { describe, expect, it } from 'vitest';
import { collectMigrations, factsOf } from '../../src/estimators/migrations.js';
import type { TelemetryRecord } from '../../src/records/records.js';

/** One arc record of migration `m`. */
const arc = (deviceId: string, from: string, to: string, startedAtMs: number, latencyMs: number): TelemetryRecord =>
  ({ kind: 'arc', migrationId: 'm', deviceId, deviceModel: 'mlx5-cx7', from, to, startedAtMs, latencyMs, stopCopyBytes: 1e8, ok: true }) as TelemetryRecord;

/** Two devices into STOP_COPY one after another, then their destination loads at `loadStartsMs`. */
function migration(loadStartsMs: readonly [number, number]): TelemetryRecord[] {
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

describe('the recorded blackout query: loads beside the wire', () => {
  // Two source devices into STOP_COPY by 1100; the blackout's transfer timed at 300 ms; loads at
  // `loads`, the i-th on the destination device `loadId(i)`.
  const facts = (loads: readonly (readonly [number, number])[], timedMs = 300, loadId = (i: number): string => `dst-${i}`) =>
    factsOf(
      collectMigrations([
        { kind: 'outcome', migrationId: 'm', policy: 'qemu', deadlineMs: 1000, decidedAtMs: 1000, predictedBlackoutMs: 500, actualBlackoutMs: 600, met: true },
        { kind: 'transfer', migrationId: 'm', deviceId: 'ram', phase: 'stopcopy', bytes: 1e9, durationMs: timedMs },
        arc('a', 'PRE_COPY_P2P', 'STOP_COPY', 1000, 50),
        arc('b', 'PRE_COPY_P2P', 'STOP_COPY', 1050, 50),
        ...loads.map(([start, latency], i) => arc(loadId(i), 'RESUMING', 'STOP', start, latency)),
      ]).get('m')!,
    ).query.deviceStateMultifd;

  it('is multifd when the last load started before the sources’ end plus the transfer, overlapping or not', () => {
    // A short load, then the next device's, both before 1100 + 300: beside the wire, not beside each other.
    expect(facts([[1110, 2], [1130, 100]])).toBe(true);
    // One device's load beside the wire.
    expect(facts([[1150, 100]])).toBe(true);
  });

  it('is the main channel when the last load started after the transfer, and unknown with one such load', () => {
    // RAM and both streams (300 ms) before the last load, the first load between the streams.
    expect(facts([[1300, 100], [1405, 50]])).toBe(false);
    expect(facts([[1400, 100]])).toBeUndefined();
  });

  it('finds the source arcs by their states, so a device named the same on both sides reads the same', () => {
    const sameNames = (loads: readonly (readonly [number, number])[]) => facts(loads, 300, (i) => (i === 0 ? 'a' : 'b'));
    expect(sameNames([[1110, 2], [1130, 100]])).toBe(true);
    expect(sameNames([[1300, 100], [1405, 50]])).toBe(false);
  });

  it('reads nothing from a transfer timed as long as the blackout (a QMP import): overlapping loads alone tell', () => {
    expect(facts([[1110, 2], [1130, 100]], 600)).toBe(false);
    expect(facts([[1110, 50], [1130, 100]], 600)).toBe(true);
    expect(facts([[1150, 100]], 600)).toBeUndefined();
  });
});

describe('the recorded blackout query: arcs that start the instant the previous one ended', () => {
  // Unix-epoch ms, as a host's records carry: near 1.78e12 a float64 is 2.4e-4 ms apart, so
  // `start + latency` of one arc can round past the next arc's start, taken at the same instant.
  const anchor = 1780000031361.5;
  const first = anchor + 0.37;
  const latency = 50.3;
  const next = anchor + (0.37 + latency);
  const records: TelemetryRecord[] = [
    { kind: 'outcome', migrationId: 'm', policy: 'qemu', deadlineMs: 1000, decidedAtMs: anchor, predictedBlackoutMs: 500, actualBlackoutMs: 600, met: true },
    arc('a', 'PRE_COPY_P2P', 'STOP_COPY', first, latency),
    arc('b', 'PRE_COPY_P2P', 'STOP_COPY', next, 50),
    arc('dst-a', 'RESUMING', 'STOP', anchor + 300.37, latency),
    arc('dst-b', 'RESUMING', 'STOP', anchor + (300.37 + latency), 100),
  ];

  it('reads them as one after another, not as overlapping by a rounding error', () => {
    // The premise: the rounded end of the first arc is past the second's start.
    expect(first + latency).toBeGreaterThan(next);
    const facts = factsOf(collectMigrations(records).get('m')!);
    expect(facts.query.serial).toBe(true);
    expect(facts.query.deviceStateMultifd).toBe(false);
  });

  it('still reads arcs that overlap by a millisecond as side by side', () => {
    const overlapping = records.map((r) => (r.kind === 'arc' && (r.deviceId === 'b' || r.deviceId === 'dst-b') ? { ...r, startedAtMs: r.startedAtMs - 1 } : r));
    const facts = factsOf(collectMigrations(overlapping).get('m')!);
    expect(facts.query.serial).toBe(false);
    expect(facts.query.deviceStateMultifd).toBe(true);
  });
});
