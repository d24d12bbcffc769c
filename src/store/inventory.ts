/**
 * What is in a database: migrations with their totals, devices, rejected input and row counts.
 * For the CLI summaries, the report and tests comparing imports with their sources.
 */
import type { Store } from './store.js';

/** One migration and the totals its transfers and outcome imply. */
export interface MigrationSummary {
  readonly migrationId: string;
  /** Prefix of the id before its last `/` (the QMP importer's scenario folder), if any. */
  readonly scenario?: string;
  /** File its first record came from, if it came from a file. */
  readonly sourceFile?: string;
  /** Σ transfer bytes (guest RAM and devices, all phases). */
  readonly transferredBytes: number;
  /** Σ durations of the `ram` transfers (pre-copy + stop-copy): QEMU's `total-time`. */
  readonly totalTimeMs: number;
  /** From the latest outcome: the actual blackout, QEMU's `downtime`. */
  readonly downtimeMs?: number;
  readonly deadlineMs?: number;
  readonly predictedBlackoutMs?: number;
  readonly met?: boolean;
  readonly policy?: string;
  /** QEMU's version on the source and the destination (`stack` records); absent: not known. */
  readonly qemuVersion?: string;
  readonly destinationQemuVersion?: string;
}

interface MigrationRow {
  migrationId: string;
  scenario: string | null;
  sourceFile: string | null;
  transferredBytes: number;
  totalTimeMs: number;
  downtimeMs: number | null;
  deadlineMs: number | null;
  predictedBlackoutMs: number | null;
  met: number | null;
  policy: string | null;
  qemuVersion: string | null;
  destinationQemuVersion: string | null;
}

/** Every migration, by id. */
export function listMigrations(store: Store): MigrationSummary[] {
  const rows = store.db
    .prepare(
      `SELECT migration_id AS migrationId, scenario, source_file AS sourceFile, transferred_bytes AS transferredBytes,
              total_time_ms AS totalTimeMs, downtime_ms AS downtimeMs, deadline_ms AS deadlineMs,
              predicted_blackout_ms AS predictedBlackoutMs, met, policy,
              qemu_version AS qemuVersion, dest_qemu_version AS destinationQemuVersion
         FROM migrations ORDER BY migration_id`,
    )
    .all() as MigrationRow[];
  return rows.map((r) => {
    const out: { -readonly [K in keyof MigrationSummary]: MigrationSummary[K] } = {
      migrationId: r.migrationId,
      transferredBytes: r.transferredBytes,
      totalTimeMs: r.totalTimeMs,
    };
    if (r.scenario !== null) out.scenario = r.scenario;
    if (r.sourceFile !== null) out.sourceFile = r.sourceFile;
    if (r.downtimeMs !== null) out.downtimeMs = r.downtimeMs;
    if (r.deadlineMs !== null) out.deadlineMs = r.deadlineMs;
    if (r.predictedBlackoutMs !== null) out.predictedBlackoutMs = r.predictedBlackoutMs;
    if (r.met !== null) out.met = r.met === 1;
    if (r.policy !== null) out.policy = r.policy;
    if (r.qemuVersion !== null) out.qemuVersion = r.qemuVersion;
    if (r.destinationQemuVersion !== null) out.destinationQemuVersion = r.destinationQemuVersion;
    return out;
  });
}

/** A device seen in a migration; its model is known once one of its arcs is stored. */
export interface StoredDevice {
  readonly migrationId: string;
  readonly deviceId: string;
  readonly deviceModel?: string;
}

/** Devices of one migration, or of all. */
export function listDevices(store: Store, migrationId?: string): StoredDevice[] {
  const rows = store.db
    .prepare(
      `SELECT m.migration_id AS migrationId, d.device_id AS deviceId,
              (SELECT dm.name FROM arcs a JOIN device_models dm ON dm.id = a.model_ref
                WHERE a.migration_ref = d.migration_ref AND a.device_ref = d.id LIMIT 1) AS deviceModel
         FROM devices d JOIN migrations m ON m.id = d.migration_ref
        WHERE @migrationId IS NULL OR m.migration_id = @migrationId ORDER BY m.migration_id, d.device_id`,
    )
    .all({ migrationId: migrationId ?? null }) as Array<{ migrationId: string; deviceId: string; deviceModel: string | null }>;
  return rows.map((r) =>
    r.deviceModel === null ? { migrationId: r.migrationId, deviceId: r.deviceId } : { migrationId: r.migrationId, deviceId: r.deviceId, deviceModel: r.deviceModel },
  );
}

/** A stored reject: input that was not a valid record, with why and where. */
export interface StoredReject {
  readonly file?: string;
  readonly line?: number;
  readonly reason: string;
  readonly text: string;
  readonly rejectedAtMs: number;
}

/** Rejects in the order they were stored (by file and line within one import). */
export function listRejects(store: Store, options: { readonly limit?: number; readonly file?: string } = {}): StoredReject[] {
  const rows = store.db
    .prepare(
      `SELECT source_file AS file, source_line AS line, reason, text, rejected_at_ms AS rejectedAtMs
         FROM rejects WHERE @file IS NULL OR source_file = @file ORDER BY id LIMIT @limit`,
    )
    .all({ file: options.file ?? null, limit: options.limit ?? -1 }) as Array<{ file: string | null; line: number | null; reason: string; text: string; rejectedAtMs: number }>;
  return rows.map((r) => {
    const out: { -readonly [K in keyof StoredReject]: StoredReject[K] } = { reason: r.reason, text: r.text, rejectedAtMs: r.rejectedAtMs };
    if (r.file !== null) out.file = r.file;
    if (r.line !== null) out.line = r.line;
    return out;
  });
}

/** Tables whose rows {@link tableCounts} counts. */
export const STORE_TABLES = ['migrations', 'device_models', 'devices', 'arcs', 'sizes', 'transfers', 'ram_progress', 'outcomes', 'attempts', 'rejects'] as const;
export type StoreTable = (typeof STORE_TABLES)[number];

/** Rows per table. */
export function tableCounts(store: Store): Record<StoreTable, number> {
  const out = {} as Record<StoreTable, number>;
  for (const t of STORE_TABLES) out[t] = (store.db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n;
  return out;
}

/** Telemetry records stored (all kinds, rejects excluded; a `stack` record is a migration's version column). */
export function recordCount(store: Store): number {
  const c = tableCounts(store);
  const stacks = store.db.prepare(`SELECT count(qemu_version) + count(dest_qemu_version) FROM migrations`).pluck().get() as number;
  return c.arcs + c.sizes + c.transfers + c.ram_progress + c.outcomes + c.attempts + stacks;
}
