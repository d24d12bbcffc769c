/**
 * The Parquet export's layout (contract for fleet tools: DuckDB, Spark, BigQuery read these
 * files by name): one folder per table, Hive-partitioned by the migration's UTC day,
 *
 *   <dir>/<table>/day=YYYY-MM-DD/<host>_<n>.parquet
 *
 * with the columns below, snake_case with units as in the SQLite `arcs_named` view. Every row
 * of one migration is in the same day (the day of its first arc; without arcs, of its first
 * outcome, size poll or RAM poll), so joins by `(host, migration_id)` stay within a partition.
 * Transfers, attempts and stacks date nothing: a migration with no other rows is in day
 * 1970-01-01. An export written before the `attempts` and `stacks` tables existed simply has no
 * such folders.
 * Each file carries `vfio_sla_export` = {@link EXPORT_FORMAT_VERSION} in its key-value metadata.
 */

/** DuckDB column types used by the export. */
export type ExportColumnType = 'VARCHAR' | 'DOUBLE' | 'BIGINT' | 'INTEGER' | 'BOOLEAN';

/** Version of this layout, in every file's `vfio_sla_export` metadata; bump on incompatible change. */
export const EXPORT_FORMAT_VERSION = 1;

/** Tables exported, in order; each a folder of the export. */
export const EXPORT_TABLES = ['arcs', 'sizes', 'transfers', 'ram', 'outcomes', 'attempts', 'stacks'] as const;
export type ExportTable = (typeof EXPORT_TABLES)[number];

/** Columns of each table, in file order (the `day` partition column comes from the folder). */
export const EXPORT_COLUMNS = {
  arcs: [
    ['host', 'VARCHAR'],
    ['migration_id', 'VARCHAR'],
    ['device_id', 'VARCHAR'],
    ['device_model', 'VARCHAR'],
    ['arc', 'VARCHAR'],
    ['from_state', 'VARCHAR'],
    ['to_state', 'VARCHAR'],
    ['started_at_ms', 'DOUBLE'],
    ['latency_ms', 'DOUBLE'],
    ['stop_copy_bytes', 'BIGINT'],
    ['ok', 'BOOLEAN'],
    ['errno', 'VARCHAR'],
    ['deadline_ms', 'DOUBLE'],
  ],
  sizes: [
    ['host', 'VARCHAR'],
    ['migration_id', 'VARCHAR'],
    ['device_id', 'VARCHAR'],
    ['at_ms', 'DOUBLE'],
    ['stop_copy_bytes', 'BIGINT'],
    ['initial_bytes', 'BIGINT'],
    ['dirty_bytes', 'BIGINT'],
  ],
  transfers: [
    ['host', 'VARCHAR'],
    ['migration_id', 'VARCHAR'],
    ['device_id', 'VARCHAR'],
    ['phase', 'VARCHAR'],
    ['bytes', 'BIGINT'],
    ['duration_ms', 'DOUBLE'],
    ['link', 'VARCHAR'],
  ],
  ram: [
    ['host', 'VARCHAR'],
    ['migration_id', 'VARCHAR'],
    ['at_ms', 'DOUBLE'],
    ['pass', 'INTEGER'],
    ['remaining_bytes', 'BIGINT'],
    ['dirty_bytes_per_s', 'DOUBLE'],
    ['bandwidth_bytes_per_s', 'DOUBLE'],
    ['expected_downtime_ms', 'DOUBLE'],
  ],
  outcomes: [
    ['host', 'VARCHAR'],
    ['migration_id', 'VARCHAR'],
    ['policy', 'VARCHAR'],
    ['deadline_ms', 'DOUBLE'],
    ['decided_at_ms', 'DOUBLE'],
    ['predicted_blackout_ms', 'DOUBLE'],
    ['actual_blackout_ms', 'DOUBLE'],
    ['met', 'BOOLEAN'],
  ],
  /** How every attempt ended (completed, aborted, cancelled, failed): the aborts beside the outcomes. */
  attempts: [
    ['host', 'VARCHAR'],
    ['migration_id', 'VARCHAR'],
    ['policy', 'VARCHAR'],
    ['status', 'VARCHAR'],
    ['reason', 'VARCHAR'],
    ['deadline_ms', 'DOUBLE'],
    ['total_time_ms', 'DOUBLE'],
    ['predicted_blackout_ms', 'DOUBLE'],
  ],
  /** The QEMU version each side of a migration ran, where known: what the stack-specific calibration groups by. */
  stacks: [
    ['host', 'VARCHAR'],
    ['migration_id', 'VARCHAR'],
    ['side', 'VARCHAR'],
    ['qemu_version', 'VARCHAR'],
  ],
} as const satisfies Record<ExportTable, ReadonlyArray<readonly [string, ExportColumnType]>>;

/** Each table's row identity (the SQLite primary key, by name): a total order for reading back. */
export const EXPORT_KEYS: Readonly<Record<ExportTable, readonly string[]>> = {
  arcs: ['host', 'migration_id', 'device_id', 'from_state', 'to_state', 'started_at_ms'],
  sizes: ['host', 'migration_id', 'device_id', 'at_ms'],
  transfers: ['host', 'migration_id', 'device_id', 'phase', 'bytes', 'duration_ms'],
  ram: ['host', 'migration_id', 'at_ms'],
  outcomes: ['host', 'migration_id', 'policy', 'decided_at_ms'],
  attempts: ['host', 'migration_id', 'policy'],
  stacks: ['host', 'migration_id', 'side'],
};

/** `CREATE TABLE` of a table's staging copy in DuckDB: its columns plus `day DATE`. */
export function stagingTableSql(table: ExportTable): string {
  const cols = EXPORT_COLUMNS[table].map(([name, type]) => `${name} ${type}`);
  return `CREATE TABLE ${table} (${[...cols, 'day DATE'].join(', ')})`;
}

/** A host name as a file-name prefix: letters, digits, `.` and `-` kept, any other byte `_xx` (hex). */
export function hostFilePrefix(host: string): string {
  // Injective, so two hosts never share files: `_` only ever starts an escape (`a/b` → `a_2fb`,
  // `a_b` → `a_5fb`); names of letters, digits, dots and dashes (DNS host names) stay as they are.
  const safe = [...Buffer.from(host, 'utf8')]
    .map((b) => (/[A-Za-z0-9.-]/.test(String.fromCharCode(b)) && b < 0x80 ? String.fromCharCode(b) : `_${b.toString(16).padStart(2, '0')}`))
    .join('');
  return safe === '' ? '_' : safe;
}

/** The glob DuckDB (and Spark, as a path) reads one table of an export with. */
export function tableGlob(dir: string, table: ExportTable): string {
  return `${dir.replace(/\/+$/, '')}/${table}/*/*.parquet`;
}
