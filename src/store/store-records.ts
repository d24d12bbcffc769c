/**
 * What `vfio-sla fit` reads from the store, collected straight into the estimators'
 * {@link MigrationCollector}: every arc, stop-copy transfers, outcomes, size polls, and per
 * migration only the RAM poll at its decision (the one the blackout fit uses) — but every RAM poll
 * and the RAM pre-copy transfer of a migration QEMU switched over (the pre-copy time fit's).
 *
 * Read with raw-mode statements on the tables of `store/schema.ts` v2 rather than the typed
 * queries of `store/queries.ts`: better-sqlite3's named-column rows cost ~3× raw ones, each row
 * costs ~0.5 µs of round trip (so arcs come as column batches, `scan.ts`), the typed queries
 * join and sort, and per-migration queries add 10⁵ round trips — while 1 M arcs must be fitted
 * in ≤ 3 s (bench/estimators.ts). The fit CLI test fails if the schema moves.
 */
import { MigrationCollector } from '../estimators/migrations.js';
import type { TransferRecord } from '../records/records.js';
import { columnReader, type ColumnReader } from './column-reader.js';
import { referenceNames, scanColumnBatches } from './scan.js';
import type { Store } from './store.js';

type Row = unknown[];

function* rows(store: Store, sql: string): Generator<Row> {
  yield* store.db.prepare(sql).raw(true).iterate() as IterableIterator<Row>;
}

const num = (v: unknown): number => v as number;
const opt = (v: unknown): number | undefined => (v === null ? undefined : (v as number));

/** The arc columns a fit reads, in this order (none of them NULL: `schema.ts`). */
const FIT_ARC_COLUMNS = ['migration_ref', 'device_ref', 'model_ref', 'from_state', 'to_state', 'started_at_ms', 'latency_ms', 'stop_copy_bytes', 'ok'] as const;
type FitArcBatch = { readonly [K in keyof typeof FIT_ARC_COLUMNS]: Float64Array } & readonly Float64Array[];

/** A batch of `transfers` in {@link SCAN_COLUMNS} order. */
type TransferBatch = readonly [Float64Array, ReadonlyArray<string | null>, ReadonlyArray<string | null>, Float64Array, Float64Array, ReadonlyArray<string | null>];

/**
 * The fit's records of `store`, optionally only of migrations `keep` accepts. `reader`: how the
 * arcs and transfers are read (default: with the column extension where it builds,
 * `column-reader.ts`).
 */
export function collectStore(store: Store, keep: (migrationId: string) => boolean = () => true, reader: ColumnReader = columnReader(store)): MigrationCollector {
  const c = new MigrationCollector();
  const { migrations, devices, models } = referenceNames(store);
  migrations.forEach((id, ref) => {
    if (!keep(id)) delete migrations[ref];
  });
  // Arcs as column batches (`scan.ts`): with the column extension a batch of ~7,000 arcs is one
  // statement and one BLOB per column — 1 M arcs in ~0.45 s, where one JSON array per migration
  // (`json_group_array`, this reader before) took 0.76 s and its parse and arrays as much again.
  // A migration's arcs are a run of a batch, in primary-key order (as they were); its number
  // columns go to the collector as views of the batch's, not copied.
  for (const batch of scanColumnBatches(store, 'arcs', reader, FIT_ARC_COLUMNS)) {
    const [migration, device, model, from, to, startedAtMs, latencyMs, stopCopyBytes, ok] = batch as unknown as FitArcBatch;
    for (let a = 0, b = 0; a < migration.length; a = b) {
      const ref = migration[a] as number;
      for (b = a + 1; b < migration.length && migration[b] === ref; b++);
      const id = migrations[ref];
      if (id === undefined) continue;
      const deviceId: string[] = [];
      const deviceModel: string[] = [];
      const okArcs: boolean[] = [];
      for (let i = a; i < b; i++) {
        const d = device[i] as number;
        const m = model[i] as number;
        deviceId.push(devices[d] ?? String(d));
        deviceModel.push(models[m] ?? String(m));
        okArcs.push(ok[i] === 1);
      }
      c.addArcColumns(id, {
        deviceId,
        deviceModel,
        from: from.subarray(a, b),
        to: to.subarray(a, b),
        startedAtMs: startedAtMs.subarray(a, b),
        latencyMs: latencyMs.subarray(a, b),
        stopCopyBytes: stopCopyBytes.subarray(a, b),
        ok: okArcs,
      });
    }
  }
  // Transfers: the stop-copy ones, and the RAM pre-copy transfer — with every RAM poll of the
  // migrations QEMU switched over itself (below), what the pre-copy time model learns from
  // (`estimators/total-time.ts`). One scan of the table (`scan.ts`), half the time of a row per
  // transfer; the RAM pre-copy transfers are added after the stop-copy ones, as two queries did.
  const ramPrecopy: TransferRecord[] = [];
  for (const batch of scanColumnBatches(store, 'transfers', reader)) {
    const [migration, deviceId, phase, bytes, durationMs, link] = batch as unknown as TransferBatch;
    for (let i = 0; i < migration.length; i++) {
      const migrationId = migrations[migration[i] as number];
      const p = phase[i];
      if (migrationId === undefined || (p !== 'stopcopy' && !(p === 'precopy' && deviceId[i] === 'ram'))) continue;
      const l = link[i] ?? null;
      const r: TransferRecord = { kind: 'transfer', migrationId, deviceId: deviceId[i] as string, phase: p, bytes: bytes[i] as number, durationMs: durationMs[i] as number, ...(l === null ? {} : { link: l }) };
      if (p === 'stopcopy') c.add(r);
      else ramPrecopy.push(r);
    }
  }
  for (const r of ramPrecopy) c.add(r);
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
