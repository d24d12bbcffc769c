/**
 * Telemetry records back out of a `vfio-sla export` directory (one host's or a whole fleet's),
 * read with DuckDB, in the contract shapes `fitModel()` takes — so a model fitted from the
 * fleet's Parquet ships back to hosts as `models/*.json`:
 *
 * ```ts
 * const records = await readParquetRecords('fleet/');
 * saveModel('models/fleet.json', fitModel(records, priors, { name: 'fleet' }));
 * ```
 *
 * Migration ids are unique per host only: when the directory holds more than one host, each id
 * becomes `<migration_id>@<host>` (a suffix, so id-prefix filters such as `fit --exclude`
 * still match).
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { TelemetryRecord } from '../records/records.js';
import { validateRecord } from '../telemetry/validate.js';
import { duckDbError, openDuckDb, sqlString } from './duckdb.js';
import { ReportError } from './errors.js';
import { EXPORT_COLUMNS, EXPORT_KEYS, EXPORT_TABLES, tableGlob, type ExportTable } from './export-schema.js';

/** Options of {@link readParquetRecords}. */
export interface ParquetReadOptions {
  /** Only this host's rows. */
  readonly host?: string;
  /** Called with each table's name and rows read so far. */
  readonly onProgress?: (table: ExportTable, rows: number) => void;
}

type Value = string | number | boolean | null;

/** Tables of `dir` that hold Parquet files. */
function presentTables(dir: string): ExportTable[] {
  return EXPORT_TABLES.filter((t) => {
    const folder = join(dir, t);
    if (!existsSync(folder)) return false;
    return readdirSync(folder, { recursive: true, encoding: 'utf8' }).some((f) => f.endsWith('.parquet'));
  });
}

/** Every column, BIGINT read as DOUBLE so values arrive as JS numbers (sizes < 2^53). */
function selectList(table: ExportTable): string {
  return EXPORT_COLUMNS[table].map(([name, type]) => (type === 'BIGINT' ? `CAST(${name} AS DOUBLE) AS ${name}` : name)).join(', ');
}

function source(dir: string, table: ExportTable): string {
  return `read_parquet(${sqlString(tableGlob(dir, table))}, hive_partitioning = true, union_by_name = true)`;
}

async function checkColumns(duck: DuckDBConnection, dir: string, table: ExportTable): Promise<void> {
  const described = await duck.runAndReadAll(`DESCRIBE SELECT * FROM ${source(dir, table)}`);
  const have = new Set(described.getRows().map((r) => String(r[0])));
  const missing = EXPORT_COLUMNS[table].map(([name]) => name).filter((n) => !have.has(n));
  if (missing.length > 0) throw new ReportError('E_BAD_EXPORT', `${join(dir, table)}: not a vfio-sla export, missing columns ${missing.join(', ')}`);
}

/** Distinct hosts over the tables present. */
async function hostsOf(duck: DuckDBConnection, dir: string, tables: readonly ExportTable[]): Promise<string[]> {
  const union = tables.map((t) => `SELECT DISTINCT host FROM ${source(dir, t)}`).join(' UNION ');
  return (await duck.runAndReadAll(union)).getRows().map((r) => String(r[0]));
}

/** Builds a record of `table` from a row in {@link EXPORT_COLUMNS} order (after `host`). */
function toRecord(table: ExportTable, migrationId: string, r: readonly Value[], intern: (s: string) => string): TelemetryRecord {
  const s = (i: number): string => intern(String(r[i]));
  const n = (i: number): number => r[i] as number;
  switch (table) {
    case 'arcs': {
      const rec = { kind: 'arc' as const, migrationId, deviceId: s(2), deviceModel: s(3), from: s(5), to: s(6), startedAtMs: n(7), latencyMs: n(8), stopCopyBytes: n(9), ok: r[10] === true };
      return { ...rec, ...(r[11] === null ? {} : { errno: s(11) }), ...(r[12] === null ? {} : { deadlineMs: n(12) }) };
    }
    case 'sizes': {
      const rec = { kind: 'size' as const, migrationId, deviceId: s(2), atMs: n(3), stopCopyBytes: n(4) };
      return { ...rec, ...(r[5] === null ? {} : { initialBytes: n(5) }), ...(r[6] === null ? {} : { dirtyBytes: n(6) }) };
    }
    case 'transfers': {
      const rec = { kind: 'transfer' as const, migrationId, deviceId: s(2), phase: r[3] === 'precopy' ? ('precopy' as const) : ('stopcopy' as const), bytes: n(4), durationMs: n(5) };
      return r[6] === null ? rec : { ...rec, link: s(6) };
    }
    case 'ram': {
      const rec = { kind: 'ram' as const, migrationId, atMs: n(2), pass: n(3), remainingBytes: n(4), dirtyBytesPerS: n(5), bandwidthBytesPerS: n(6) };
      return r[7] === null ? rec : { ...rec, expectedDowntimeMs: n(7) };
    }
    case 'outcomes':
      return { kind: 'outcome', migrationId, policy: s(2), deadlineMs: n(3), decidedAtMs: n(4), predictedBlackoutMs: n(5), actualBlackoutMs: n(6), met: r[7] === true };
    // Strings with a closed set of values (a status, a side, a version's form): checked as a record file's are.
    case 'attempts': {
      const rec = { kind: 'attempt', migrationId, policy: s(2), status: s(3), reason: s(4), deadlineMs: n(5), totalTimeMs: n(6) };
      return validated(table, r[7] === null ? rec : { ...rec, predictedBlackoutMs: n(7) });
    }
    case 'stacks':
      return validated(table, { kind: 'stack', migrationId, side: s(2), qemuVersion: s(3) });
  }
}

/** `record` when it is a valid telemetry record, else `E_BAD_EXPORT` naming the table, the migration and what is wrong. */
function validated(table: ExportTable, record: { readonly migrationId: string; readonly [field: string]: unknown }): TelemetryRecord {
  const v = validateRecord(record);
  if (typeof v === 'string') throw new ReportError('E_BAD_EXPORT', `${table} of ${record.migrationId}: ${v}`);
  return v;
}

/**
 * Streams every record of the export at `dir`: arcs, sizes, transfers, RAM polls, outcomes,
 * attempts, stacks, each table in its rows' identity order (host, migration, ...). Throws `E_BAD_EXPORT` when `dir` holds no
 * exported table or a table lacks a column.
 */
export async function* parquetRecords(dir: string, options: ParquetReadOptions = {}): AsyncGenerator<TelemetryRecord> {
  const root = resolve(dir);
  const tables = presentTables(root);
  if (tables.length === 0) throw new ReportError('E_BAD_EXPORT', `${root}: no exported tables (expected ${EXPORT_TABLES.map((t) => `${t}/day=*/…parquet`).join(', ')})`);
  const strings = new Map<string, string>();
  const intern = (v: string): string => {
    const hit = strings.get(v);
    if (hit !== undefined) return hit;
    strings.set(v, v);
    return v;
  };
  const duck = await openDuckDb().catch((e: unknown) => {
    throw duckDbError(`read ${root}`, e);
  });
  try {
    const db = duck.connection;
    for (const t of tables) await checkColumns(db, root, t);
    const qualify = options.host === undefined && (await hostsOf(db, root, tables)).length > 1;
    for (const table of tables) {
      const where = options.host === undefined ? '' : ` WHERE host = ${sqlString(options.host)}`;
      const result = await db.stream(`SELECT ${selectList(table)} FROM ${source(root, table)}${where} ORDER BY ${EXPORT_KEYS[table].join(', ')}`);
      let rows = 0;
      for (;;) {
        const chunk = await result.fetchChunk();
        if (chunk === null || chunk.rowCount === 0) break;
        for (const r of chunk.getRows() as Value[][]) {
          const id = intern(qualify ? `${String(r[1])}@${String(r[0])}` : String(r[1]));
          yield toRecord(table, id, r, intern);
        }
        rows += chunk.rowCount;
        options.onProgress?.(table, rows);
      }
    }
  } catch (e) {
    throw duckDbError(`read ${root}`, e);
  } finally {
    duck.close();
  }
}

/** Every record of the export at `dir`, in memory (what `fitModel()` takes). */
export async function readParquetRecords(dir: string, options: ParquetReadOptions = {}): Promise<TelemetryRecord[]> {
  const out: TelemetryRecord[] = [];
  for await (const r of parquetRecords(dir, options)) out.push(r);
  return out;
}
