/**
 * Raw-row scans of the store's tables: the reader the Parquet export, the fit
 * (`store-records.ts`) and the analysis (`analysis.ts`) share for what they read in bulk —
 * reference names by id, and every row of a table as column arrays in a fixed column order.
 *
 * Raw values (better-sqlite3 `.raw(true)`/`.pluck()`), no join: named-column rows cost ~3× raw
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

/** Each table's primary key: {@link scanColumnBatches} reads in its order, the storage order. */
const SCAN_KEY: Record<ScanTable, string> = {
  arcs: 'migration_ref, device_ref, from_state, to_state, started_at_ms',
  sizes: 'migration_ref, device_ref, at_ms',
  transfers: 'migration_ref, device_id, phase, bytes, duration_ms',
  ram_progress: 'migration_ref, at_ms',
  outcomes: 'migration_ref, policy, decided_at_ms',
};

/** Migrations per batch of {@link scanColumnBatches}: ~28 arcs each, a few thousand rows. */
const BATCH_MIGRATIONS = 256;

/**
 * Every row of `table` as column batches: each batch holds one array per column of
 * {@link SCAN_COLUMNS}`[table]` (same length, row i across them), rows of a range of
 * migrations in primary-key order. One plucked SELECT per column and batch, all of a batch in
 * one read transaction (one snapshot): no array per row, and a column array goes to its
 * consumer as it is — a row array per row and its transposition cost the export more than
 * reading the values.
 */
export function* scanColumnBatches(store: Store, table: ScanTable): Generator<readonly unknown[][]> {
  const range = store.db.prepare(`SELECT min(migration_ref), max(migration_ref) FROM ${table}`).raw(true).get() as [number | null, number | null];
  const [first, last] = range;
  if (first === null || last === null) return;
  // ORDER BY the key: the same order for every column even where an index covers one of them.
  const selects = SCAN_COLUMNS[table].map((c) =>
    store.db.prepare(`SELECT ${c} FROM ${table} WHERE migration_ref >= ? AND migration_ref < ? ORDER BY ${SCAN_KEY[table]}`).pluck(),
  );
  const batch = store.db.transaction((from: number) => selects.map((s) => s.all(from, from + BATCH_MIGRATIONS)));
  for (let from = first; from <= last; from += BATCH_MIGRATIONS) {
    const columns = batch(from);
    if ((columns[0]?.length ?? 0) > 0) yield columns;
  }
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
