/**
 * Raw-row scans of the store's tables: the reader the Parquet export, the fit
 * (`store-records.ts`) and the analysis (`analysis.ts`) share for what they read in bulk —
 * reference names by id, and every row of a table as an array in a fixed column order.
 *
 * Raw rows (better-sqlite3 `.raw(true)`), no join, no ORDER BY: named-column rows cost ~3× raw
 * ones, and a join per row is what the small reference tables resolve afterwards.
 */
import type { Store } from './store.js';

/** The telemetry tables of `schema.ts`. */
export type ScanTable = 'arcs' | 'sizes' | 'transfers' | 'ram_progress' | 'outcomes';

/** The columns {@link scanRows} yields for each table, in order; `*_ref` columns are ids of the reference tables. */
export const SCAN_COLUMNS = {
  arcs: ['migration_ref', 'device_ref', 'model_ref', 'from_state', 'to_state', 'started_at_ms', 'latency_ms', 'stop_copy_bytes', 'ok', 'errno', 'deadline_ms'],
  sizes: ['migration_ref', 'device_ref', 'at_ms', 'stop_copy_bytes', 'initial_bytes', 'dirty_bytes'],
  transfers: ['migration_ref', 'device_id', 'phase', 'bytes', 'duration_ms', 'link'],
  ram_progress: ['migration_ref', 'at_ms', 'pass', 'remaining_bytes', 'dirty_bytes_per_s', 'bandwidth_bytes_per_s', 'expected_downtime_ms'],
  outcomes: ['migration_ref', 'policy', 'deadline_ms', 'decided_at_ms', 'predicted_blackout_ms', 'actual_blackout_ms', 'met'],
} as const satisfies Record<ScanTable, readonly string[]>;

/** Columns of {@link SCAN_COLUMNS} that hold text (the rest are numbers or NULL). */
export const SCAN_TEXT_COLUMNS: ReadonlySet<string> = new Set(['errno', 'device_id', 'phase', 'link', 'policy']);

/** A scanned row: the values of {@link SCAN_COLUMNS}`[table]`, in order. */
export type ScanRow = readonly unknown[];

/** Every row of `table`, in storage (primary-key) order. */
export function scanRows(store: Store, table: ScanTable): IterableIterator<ScanRow> {
  return store.db.prepare(`SELECT ${SCAN_COLUMNS[table].join(', ')} FROM ${table}`).raw(true).iterate() as IterableIterator<ScanRow>;
}

/** Rows of `table`. */
export function rowCount(store: Store, table: ScanTable): number {
  return store.db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
}

/** The reference tables as arrays indexed by id (ids are small dense integers: faster than a Map). */
export interface ReferenceNames {
  /** `migrations.id` → `migration_id`. */
  readonly migrations: string[];
  /** `devices.id` → `device_id`. */
  readonly devices: string[];
  /** `device_models.id` → `name`. */
  readonly models: string[];
}

function names(store: Store, sql: string): string[] {
  const out: string[] = [];
  for (const [id, name] of store.db.prepare(sql).raw(true).iterate() as IterableIterator<[number, string]>) out[id] = name;
  return out;
}

/** Reads the three reference tables. */
export function referenceNames(store: Store): ReferenceNames {
  return {
    migrations: names(store, 'SELECT id, migration_id FROM migrations'),
    devices: names(store, 'SELECT id, device_id FROM devices'),
    models: names(store, 'SELECT id, name FROM device_models'),
  };
}

/**
 * Each migration's first recorded time, ms: of its first arc, else first outcome, size poll or
 * RAM poll (each a primary-key seek); 0 when it has none. `[migrations.id, ms]` pairs.
 */
export function migrationFirstTimes(store: Store): Array<[number, number]> {
  return store.db
    .prepare(
      `SELECT m.id, coalesce((SELECT min(started_at_ms) FROM arcs a WHERE a.migration_ref = m.id),
                             (SELECT min(decided_at_ms) FROM outcomes o WHERE o.migration_ref = m.id),
                             (SELECT min(at_ms) FROM sizes s WHERE s.migration_ref = m.id),
                             (SELECT min(at_ms) FROM ram_progress r WHERE r.migration_ref = m.id), 0) FROM migrations m`,
    )
    .raw(true)
    .all() as Array<[number, number]>;
}
