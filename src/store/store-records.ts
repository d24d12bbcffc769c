/**
 * What `vfio-sla fit` reads from the store, collected straight into the estimators'
 * {@link MigrationCollector}: every arc, stop-copy transfers, outcomes, size polls, and per
 * migration only the RAM poll at its decision (the one the blackout fit uses) — but every RAM poll
 * and the RAM pre-copy transfer of a migration QEMU switched over (the pre-copy time fit's).
 *
 * Read with raw-mode statements on the tables of `store/schema.ts` v2 rather than the typed
 * queries of `store/queries.ts`: better-sqlite3's named-column rows cost ~3× raw ones, each row
 * costs ~0.5 µs of round trip (so arcs come one JSON array per migration), the typed queries
 * join and sort, and per-migration queries add 10⁵ round trips — while 1 M arcs must be fitted
 * in ≤ 3 s (bench/estimators.ts). The fit CLI test fails if the schema moves.
 */
import { MigrationCollector } from '../estimators/migrations.js';
import { referenceNames } from './scan.js';
import type { Store } from './store.js';

type Row = unknown[];

function* rows(store: Store, sql: string): Generator<Row> {
  yield* store.db.prepare(sql).raw(true).iterate() as IterableIterator<Row>;
}

const num = (v: unknown): number => v as number;
const opt = (v: unknown): number | undefined => (v === null ? undefined : (v as number));

/** The fit's records of `store`, optionally only of migrations `keep` accepts. */
export function collectStore(store: Store, keep: (migrationId: string) => boolean = () => true): MigrationCollector {
  const c = new MigrationCollector();
  const { migrations, devices, models } = referenceNames(store);
  migrations.forEach((id, ref) => {
    if (!keep(id)) delete migrations[ref];
  });
  // One row per migration, its arc columns as one JSON array of arrays (SQLite ≥ 3.45 writes
  // doubles that round-trip): a million rows through better-sqlite3 cost twice the CPU of 36 k
  // rows plus JSON.parse, and columns go to the collector without a call per arc. States and
  // `ok` travel packed: from·16 + to·2 + ok.
  const arcs = `SELECT migration_ref, '[' || json_group_array(device_ref) || ',' || json_group_array(model_ref) || ','
                  || json_group_array(from_state * 16 + to_state * 2 + ok) || ',' || json_group_array(started_at_ms) || ','
                  || json_group_array(latency_ms) || ',' || json_group_array(stop_copy_bytes) || ']' FROM arcs GROUP BY migration_ref`;
  for (const r of rows(store, arcs)) {
    const id = migrations[num(r[0])];
    if (id === undefined) continue;
    const [device, model, code, startedAtMs, latencyMs, stopCopyBytes] = JSON.parse(r[1] as string) as number[][];
    const codes = code as number[];
    c.addArcColumns(id, {
      deviceId: (device as number[]).map((ref) => devices[ref] ?? String(ref)),
      deviceModel: (model as number[]).map((ref) => models[ref] ?? String(ref)),
      from: codes.map((k) => k >> 4),
      to: codes.map((k) => (k >> 1) & 7),
      startedAtMs: startedAtMs as number[],
      latencyMs: latencyMs as number[],
      stopCopyBytes: stopCopyBytes as number[],
      ok: codes.map((k) => (k & 1) === 1),
    });
  }
  // `+phase`: a scan of the table beats the phase index and a primary-key seek per row.
  for (const r of rows(store, "SELECT migration_ref, device_id, bytes, duration_ms, link FROM transfers WHERE +phase = 'stopcopy'")) {
    const migrationId = migrations[num(r[0])];
    if (migrationId === undefined) continue;
    const link = r[4] as string | null;
    c.add({
      kind: 'transfer',
      migrationId,
      deviceId: r[1] as string,
      phase: 'stopcopy',
      bytes: num(r[2]),
      durationMs: num(r[3]),
      ...(link === null ? {} : { link }),
    });
  }
  // The RAM pre-copy transfer and every RAM poll of the migrations QEMU switched over itself:
  // what the pre-copy time model learns from (`estimators/total-time.ts`).
  for (const r of rows(store, "SELECT migration_ref, bytes, duration_ms, link FROM transfers WHERE +phase = 'precopy' AND device_id = 'ram'")) {
    const migrationId = migrations[num(r[0])];
    if (migrationId === undefined) continue;
    const link = r[3] as string | null;
    c.add({ kind: 'transfer', migrationId, deviceId: 'ram', phase: 'precopy', bytes: num(r[1]), durationMs: num(r[2]), ...(link === null ? {} : { link }) });
  }
  const qemuRams = `
    SELECT migration_ref, at_ms, pass, remaining_bytes, dirty_bytes_per_s, bandwidth_bytes_per_s
      FROM ram_progress WHERE migration_ref IN (SELECT migration_ref FROM outcomes WHERE policy = 'qemu')`;
  for (const r of rows(store, qemuRams)) {
    const migrationId = migrations[num(r[0])];
    if (migrationId === undefined) continue;
    c.add({ kind: 'ram', migrationId, atMs: num(r[1]), pass: num(r[2]), remainingBytes: num(r[3]), dirtyBytesPerS: num(r[4]), bandwidthBytesPerS: num(r[5]) });
  }
  const outcomes = 'SELECT migration_ref, policy, deadline_ms, decided_at_ms, predicted_blackout_ms, actual_blackout_ms, met FROM outcomes ORDER BY migration_ref, decided_at_ms';
  for (const r of rows(store, outcomes)) {
    const migrationId = migrations[num(r[0])];
    if (migrationId === undefined) continue;
    c.add({
      kind: 'outcome',
      migrationId,
      policy: r[1] as string,
      deadlineMs: num(r[2]),
      decidedAtMs: num(r[3]),
      predictedBlackoutMs: num(r[4]),
      actualBlackoutMs: num(r[5]),
      met: r[6] === 1,
    });
  }
  for (const r of rows(store, 'SELECT migration_ref, device_ref, at_ms, stop_copy_bytes FROM sizes')) {
    const migrationId = migrations[num(r[0])];
    if (migrationId === undefined) continue;
    c.add({ kind: 'size', migrationId, deviceId: devices[num(r[1])] ?? String(r[1]), atMs: num(r[2]), stopCopyBytes: num(r[3]) });
  }
  // Each side's stack (schema v4): NULL is an unknown stack, and no record.
  for (const r of rows(store, 'SELECT id, qemu_version, dest_qemu_version FROM migrations WHERE qemu_version IS NOT NULL OR dest_qemu_version IS NOT NULL')) {
    const migrationId = migrations[num(r[0])];
    if (migrationId === undefined) continue;
    if (r[1] !== null) c.add({ kind: 'stack', migrationId, side: 'source', qemuVersion: r[1] as string });
    if (r[2] !== null) c.add({ kind: 'stack', migrationId, side: 'destination', qemuVersion: r[2] as string });
  }
  // The last RAM poll at or before the (latest) decision; the last poll at all without an outcome.
  const decisionRam = `
    SELECT r.migration_ref, r.at_ms, r.pass, r.remaining_bytes, r.dirty_bytes_per_s, r.bandwidth_bytes_per_s, r.expected_downtime_ms
      FROM ram_progress r
     WHERE r.at_ms = (SELECT max(r2.at_ms) FROM ram_progress r2
                       WHERE r2.migration_ref = r.migration_ref
                         AND r2.at_ms <= coalesce((SELECT max(o.decided_at_ms) FROM outcomes o WHERE o.migration_ref = r.migration_ref), 1e308))`;
  for (const r of rows(store, decisionRam)) {
    const migrationId = migrations[num(r[0])];
    if (migrationId === undefined) continue;
    const expected = opt(r[6]);
    c.add({
      kind: 'ram',
      migrationId,
      atMs: num(r[1]),
      pass: num(r[2]),
      remainingBytes: num(r[3]),
      dirtyBytesPerS: num(r[4]),
      bandwidthBytesPerS: num(r[5]),
      ...(expected === undefined ? {} : { expectedDowntimeMs: expected }),
    });
  }
  return c;
}

/** {@link collectStore} under its first name (`server/fit-job.ts`, `sim/fleet/train.ts` use it): `fitModel(storeRecords(store), ...)`. */
export const storeRecords: (store: Store, keep?: (migrationId: string) => boolean) => MigrationCollector = collectStore;
