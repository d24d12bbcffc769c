/**
 * Deterministic synthetic telemetry for benchmarks and scale runs: a fleet of migrations, each
 * with 4 devices stepping RUNNING → PRE_COPY → PRE_COPY_P2P → STOP_COPY → STOP (source) and
 * RESUMING → STOP → RUNNING_P2P → RUNNING (destination), size polls, 50 RAM polls, transfers and
 * one outcome — the mix a governed migration records (~97 records per migration).
 */
import { Rng } from '../src/sim/rng.js';
import type { Store } from '../src/store/store.js';
import type { TelemetryRecord } from '../src/records/records.js';

const SOURCE_ARCS: ReadonlyArray<readonly [string, string]> = [
  ['RUNNING', 'PRE_COPY'],
  ['PRE_COPY', 'PRE_COPY_P2P'],
  ['PRE_COPY_P2P', 'STOP_COPY'],
  ['STOP_COPY', 'STOP'],
  ['RESUMING', 'STOP'],
  ['STOP', 'RUNNING_P2P'],
  ['RUNNING_P2P', 'RUNNING'],
];
const MODELS = ['mlx5-cx7', 'mlx5-cx6dx', 'nvme-vf', 'qat-vf'] as const;
const DEVICES_PER_MIGRATION = 4;
const SIZES_PER_DEVICE = 4;
const RAM_POLLS = 50;

/** Records of migration number `m`, in the order a governor would emit them. */
export function migrationRecords(m: number, seed = 1): TelemetryRecord[] {
  const rng = new Rng(seed * 1_000_003 + m);
  const rand = (): number => rng.next();
  const migrationId = `bench-${seed}-${m}`;
  const t0 = 1_700_000_000_000 + m * 60_000;
  const out: TelemetryRecord[] = [];
  for (let p = 0; p < RAM_POLLS; p++) {
    out.push({
      kind: 'ram',
      migrationId,
      atMs: p * 200.5,
      pass: 1 + Math.floor(p / 8),
      remainingBytes: Math.floor(8e9 * (1 - p / RAM_POLLS) * rand()),
      dirtyBytesPerS: Math.floor(1e8 * rand()),
      bandwidthBytesPerS: 134_217_728 * (0.9 + 0.1 * rand()),
      expectedDowntimeMs: 300 * rand(),
    });
  }
  for (let d = 0; d < DEVICES_PER_MIGRATION; d++) {
    const deviceId = `0000:3b:00.${d}`;
    const deviceModel = MODELS[(m + d) % MODELS.length] ?? 'mlx5-cx7';
    const stopCopyBytes = Math.floor(1e6 + 4e8 * rand());
    for (let s = 0; s < SIZES_PER_DEVICE; s++) {
      out.push({ kind: 'size', migrationId, deviceId, atMs: t0 + s * 500, stopCopyBytes, initialBytes: stopCopyBytes >> 2, dirtyBytes: Math.floor(1e6 * rand()) });
    }
    let at = t0 + 5_000;
    for (const [from, to] of SOURCE_ARCS) {
      const latencyMs = 0.2 + stopCopyBytes * 1e-7 * rand();
      out.push({ kind: 'arc', migrationId, deviceId, deviceModel, from, to, startedAtMs: at, latencyMs, stopCopyBytes, ok: true, deadlineMs: 300 });
      at += latencyMs;
    }
    out.push({ kind: 'transfer', migrationId, deviceId, phase: 'stopcopy', bytes: stopCopyBytes, durationMs: stopCopyBytes / 1.25e6 });
  }
  out.push({ kind: 'transfer', migrationId, deviceId: 'ram', phase: 'precopy', bytes: 7_000_000_000, durationMs: 52_000 });
  out.push({ kind: 'transfer', migrationId, deviceId: 'ram', phase: 'stopcopy', bytes: 40_000_000, durationMs: 30 });
  out.push({
    kind: 'outcome',
    migrationId,
    policy: 'governor',
    deadlineMs: 300,
    decidedAtMs: t0 + 5_000,
    predictedBlackoutMs: 180 + 40 * rand(),
    actualBlackoutMs: 120 + 100 * rand(),
    met: true,
  });
  return out;
}

/** Records per migration of {@link migrationRecords}. */
export const RECORDS_PER_MIGRATION = migrationRecords(0).length;

/** Streams at least `count` records (whole migrations), lazily: O(one migration) memory. */
export function* syntheticRecords(count: number, seed = 1): Generator<TelemetryRecord> {
  let emitted = 0;
  for (let m = 0; emitted < count; m++) {
    for (const r of migrationRecords(m, seed)) {
      if (emitted >= count) return;
      yield r;
      emitted++;
    }
  }
}

const WRITE_BATCH = 8192;

/**
 * Writes whole synthetic migrations into `store` until it holds `arcCount` arcs (the last
 * migration's arcs cut at the limit), skipping records `keep` refuses; returns the arcs written.
 */
export function fillStoreWithArcs(
  store: Store,
  arcCount: number,
  seed: number,
  keep: (record: TelemetryRecord, migration: readonly TelemetryRecord[]) => boolean = () => true,
): number {
  let arcs = 0;
  let batch: { record: TelemetryRecord; source: undefined }[] = [];
  for (let m = 0; arcs < arcCount; m++) {
    const recs = migrationRecords(m, seed);
    for (const record of recs) {
      if (!keep(record, recs)) continue;
      if (record.kind === 'arc') {
        if (arcs >= arcCount) continue;
        arcs++;
      }
      batch.push({ record, source: undefined });
      if (batch.length >= WRITE_BATCH) {
        store.writeBatch(batch);
        batch = [];
      }
    }
  }
  if (batch.length > 0) store.writeBatch(batch);
  return arcs;
}
