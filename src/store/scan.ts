/**
 * Raw-row scans of the store's tables: the reader the Parquet export, the fit
 * (`store-records.ts`) and the analysis (`analysis.ts`) share for what they read in bulk —
 * reference names by id, and every row of a table as column arrays in a fixed column order.
 *
 * Raw values, no join: named-column rows cost ~3× raw ones, and a join per row is what the small
 * reference tables resolve afterwards. A batch's number columns come as Float64Arrays: one BLOB
 * each from our SQLite column extension where it builds (`column-reader.ts`), else plucked
 * (better-sqlite3 `.pluck()`) one value per row.
 */
import { columnReader, type ColumnReader } from './column-reader.js';
import type { Store } from './store.js';

/** The telemetry tables of `schema.ts`. */
export type ScanTable = 'arcs' | 'sizes' | 'transfers' | 'ram_progress' | 'outcomes' | 'attempts' | 'stacks';

/** The columns {@link scanColumnBatches} yields for each table, in order; `*_ref` columns are ids of the reference tables. */
export const SCAN_COLUMNS = {
  arcs: ['migration_ref', 'device_ref', 'model_ref', 'from_state', 'to_state', 'started_at_ms', 'latency_ms', 'stop_copy_bytes', 'ok', 'errno', 'deadline_ms'],
  sizes: ['migration_ref', 'device_ref', 'at_ms', 'stop_copy_bytes', 'initial_bytes', 'dirty_bytes'],
  transfers: ['migration_ref', 'device_id', 'phase', 'bytes', 'duration_ms', 'link'],
  ram_progress: ['migration_ref', 'at_ms', 'pass', 'remaining_bytes', 'dirty_bytes_per_s', 'bandwidth_bytes_per_s', 'expected_downtime_ms'],
  outcomes: ['migration_ref', 'policy', 'deadline_ms', 'decided_at_ms', 'predicted_blackout_ms', 'actual_blackout_ms', 'met'],
  attempts: ['migration_ref', 'policy', 'status', 'reason', 'deadline_ms', 'total_time_ms', 'predicted_blackout_ms'],
  stacks: ['migration_ref', 'side', 'qemu_version'],
} as const satisfies Record<ScanTable, readonly string[]>;

/** Columns of {@link SCAN_COLUMNS} that hold text (the rest are numbers or NULL). */
export const SCAN_TEXT_COLUMNS: ReadonlySet<string> = new Set(['errno', 'device_id', 'phase', 'link', 'policy', 'status', 'reason', 'side', 'qemu_version']);

/** Each table's primary key: {@link scanColumnBatches} reads in its order, the storage order. */
const SCAN_KEY: Record<ScanTable, string> = {
  arcs: 'migration_ref, device_ref, from_state, to_state, started_at_ms',
  sizes: 'migration_ref, device_ref, at_ms',
  transfers: 'migration_ref, device_id, phase, bytes, duration_ms',
  ram_progress: 'migration_ref, at_ms',
  outcomes: 'migration_ref, policy, decided_at_ms',
  attempts: 'migration_ref, policy',
  stacks: 'migration_ref, side',
};

/**
 * What each table is read from: its own name, or for `stacks` (the columns `qemu_version` and
 * `dest_qemu_version` of `migrations`, schema v4) one row per side a version is known of, in key
 * order (`destination` before `source`), as a `StackRecord` says it. `CROSS JOIN` keeps
 * `migrations` the outer loop (SQLite does not reorder it), so the rows come in key order for
 * the extension's aggregates as for the plucked reader's ORDER BY, and a batch's range on
 * `migration_ref` is a range of `migrations` rowids.
 */
const SCAN_FROM: Record<ScanTable, string> = {
  arcs: 'arcs',
  sizes: 'sizes',
  transfers: 'transfers',
  ram_progress: 'ram_progress',
  outcomes: 'outcomes',
  attempts: 'attempts',
  stacks: `(SELECT m.id AS migration_ref, s.side AS side, CASE s.side WHEN 'source' THEN m.qemu_version ELSE m.dest_qemu_version END AS qemu_version
            FROM migrations m CROSS JOIN (SELECT 'destination' AS side UNION ALL SELECT 'source') s
            WHERE (CASE s.side WHEN 'source' THEN m.qemu_version ELSE m.dest_qemu_version END) IS NOT NULL)`,
};

/** Migrations per batch of {@link scanColumnBatches}: ~28 arcs each, a few thousand rows. */
const BATCH_MIGRATIONS = 256;

/**
 * A column of a batch: numbers as a Float64Array, NaN where the value is NULL (SQLite never
 * stores a NaN: it stores NULL instead, `sqlite3VdbeMemSetDouble`), text columns
 * ({@link SCAN_TEXT_COLUMNS}) as strings and nulls.
 */
export type ScanColumn = Float64Array | ReadonlyArray<string | null>;

/** A BLOB of doubles as a Float64Array: a view when aligned, else a copy (a typed array's offset must be a multiple of 8). */
function float64s(blob: Buffer): Float64Array {
  const n = blob.byteLength / Float64Array.BYTES_PER_ELEMENT;
  return blob.byteOffset % Float64Array.BYTES_PER_ELEMENT === 0
    ? new Float64Array(blob.buffer, blob.byteOffset, n)
    : new Float64Array(blob.buffer.slice(blob.byteOffset, blob.byteOffset + blob.byteLength));
}

/** Plucked numbers (and nulls) as a Float64Array, NULL as NaN: what `f64s()` gives. */
function numbersOf(values: readonly unknown[]): Float64Array {
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    out[i] = v === null ? Number.NaN : (v as number);
  }
  return out;
}

/**
 * Every row of `table` as column batches: each batch holds one {@link ScanColumn} per column
 * of `columns` (default {@link SCAN_COLUMNS}`[table]`; same length, row i across them), rows of a range of
 * migrations in primary-key order. No array per row: a row array per row and its
 * transposition cost the export more than reading the values.
 *
 * With the column extension (`column-reader.ts`, `reader`) a batch is ONE statement:
 * `f64s(c)` per number column and `json_group_array(c)` per text column, aggregates stepped on
 * the same rows in the same order, so the columns are aligned by construction; the range on
 * the primary key's first column is a primary-key search, which visits rows in key order (the
 * scan tests check both readers give the same rows in the same order). Without it, one plucked
 * SELECT per column and batch, ordered by the key, all of a batch in one read transaction
 * (one snapshot).
 */
export function* scanColumnBatches<T extends ScanTable>(
  store: Store,
  table: T,
  reader: ColumnReader = columnReader(store),
  columns: ReadonlyArray<(typeof SCAN_COLUMNS)[T][number]> = SCAN_COLUMNS[table],
): Generator<readonly ScanColumn[]> {
  const range = store.db.prepare(`SELECT min(migration_ref), max(migration_ref) FROM ${SCAN_FROM[table]}`).raw(true).get() as [number | null, number | null];
  const [first, last] = range;
  if (first === null || last === null) return;
  const text = columns.map((c) => SCAN_TEXT_COLUMNS.has(c));
  let read: (from: number) => ScanColumn[];
  if (reader.kind === 'extension') {
    const select = store.db
      .prepare(`SELECT ${columns.map((c, i) => (text[i] ? `json_group_array(${c})` : `f64s(${c})`)).join(', ')} FROM ${SCAN_FROM[table]} WHERE migration_ref >= ? AND migration_ref < ?`)
      .raw(true);
    read = (from) => (select.get(from, from + BATCH_MIGRATIONS) as unknown[]).map((v, i) => (text[i] ? (JSON.parse(v as string) as Array<string | null>) : float64s(v as Buffer)));
  } else {
    // ORDER BY the key: the same order for every column even where an index covers one of them.
    const selects = columns.map((c) => store.db.prepare(`SELECT ${c} FROM ${SCAN_FROM[table]} WHERE migration_ref >= ? AND migration_ref < ? ORDER BY ${SCAN_KEY[table]}`).pluck());
    const batch = store.db.transaction((from: number) => selects.map((s) => s.all(from, from + BATCH_MIGRATIONS)));
    read = (from) => batch(from).map((values, i) => (text[i] ? (values as Array<string | null>) : numbersOf(values)));
  }
  for (let from = first; from <= last; from += BATCH_MIGRATIONS) {
    const batch = read(from);
    if ((batch[0]?.length ?? 0) > 0) yield batch;
  }
}

/** Rows of `table`. */
export function rowCount(store: Store, table: ScanTable): number {
  return store.db.prepare(`SELECT count(*) FROM ${SCAN_FROM[table]}`).pluck().get() as number;
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

/**
 * `id → name` of a reference table. Both columns as one JSON array each (aligned: two aggregates
 * over the same rows): half the time of a row per id through better-sqlite3 (143 k devices in
 * the 1 M-arc benchmark store).
 */
function names(store: Store, table: string, name: string): string[] {
  const [ids, values] = (store.db.prepare(`SELECT json_group_array(id), json_group_array(${name}) FROM ${table}`).raw(true).get() as [string, string]).map(
    (json) => JSON.parse(json) as unknown[],
  ) as [number[], string[]];
  const out: string[] = [];
  for (let i = 0; i < ids.length; i++) out[ids[i] as number] = values[i] as string;
  return out;
}

/** Reads the three reference tables. */
export function referenceNames(store: Store): ReferenceNames {
  return {
    migrations: names(store, 'migrations', 'migration_id'),
    devices: names(store, 'devices', 'device_id'),
    models: names(store, 'device_models', 'name'),
  };
}
