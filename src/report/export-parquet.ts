/**
 * `vfio-sla export`: a store's telemetry as Parquet for fleet engines (layout in
 * `export-schema.ts`). Rows stream from better-sqlite3 (raw rows, references resolved from
 * the small tables in memory) into DuckDB appenders, one table at a time, and DuckDB writes
 * them with `COPY … (FORMAT PARQUET, PARTITION_BY (day))`. DuckDB's SQLite extension is not
 * used: it would have to be downloaded.
 *
 * Re-exporting a host overwrites that host's file of each day it writes (names are
 * `<host>_<n>.parquet`); other hosts' files in the same folders are left alone. `sinceMs`
 * exports whole UTC days from the day it falls in, so a day's file is never replaced by part
 * of that day.
 */
import { mkdirSync, readdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { DuckDBAppender, DuckDBDateValue } from '@duckdb/node-api';
import { stateName, type MigState } from '../fsm/index.js';
import type { Store } from '../store/store.js';
import { importOptional } from '../optional-dependency.js';
import { sqlString, withDuckDb } from './duckdb.js';
import { EXPORT_FORMAT_VERSION, EXPORT_TABLES, hostFilePrefix, stagingTableSql, type ExportTable } from './export-schema.js';

/** Options of {@link exportParquet}. */
export interface ExportOptions {
  /** Host name written in every row and file name (default: this machine's `os.hostname()`). */
  readonly host?: string;
  /** Only migrations whose day is that of this time or later, ms (whole UTC days). */
  readonly sinceMs?: number;
  /** Rows written so far of the total. */
  readonly onProgress?: (doneRows: number, totalRows: number) => void;
}

/** What an export wrote. */
export interface ExportSummary {
  readonly dir: string;
  readonly host: string;
  readonly migrations: number;
  /** Rows and distinct days per table. */
  readonly tables: Readonly<Record<ExportTable, { readonly rows: number; readonly days: number }>>;
  /** Files written, relative to `dir`, sorted. */
  readonly files: readonly string[];
}

const DAY_MS = 86_400_000;
const PROGRESS_EVERY = 65_536;

/** Names of the references a row holds. */
interface Names {
  readonly migrations: ReadonlyMap<number, string>;
  readonly devices: ReadonlyMap<number, string>;
  readonly models: ReadonlyMap<number, string>;
}

type Row = readonly unknown[];

interface TableReader {
  readonly sql: string;
  /** Appends the row's columns after `host` and before `day`. */
  readonly append: (app: DuckDBAppender, row: Row, names: Names) => void;
}

function str(app: DuckDBAppender, v: unknown): void {
  if (v === null || v === undefined) app.appendNull();
  else app.appendVarchar(String(v));
}

function num(app: DuckDBAppender, v: unknown): void {
  if (typeof v === 'number') app.appendDouble(v);
  else app.appendNull();
}

const state = (n: unknown): string => stateName(n as MigState);

/** How each table is read from SQLite (`store/schema.ts` v1) and appended, column for column. */
const READERS: Record<ExportTable, TableReader> = {
  arcs: {
    sql: 'SELECT migration_ref, device_ref, model_ref, from_state, to_state, started_at_ms, latency_ms, stop_copy_bytes, ok, errno, deadline_ms FROM arcs',
    append: (app, r, n) => {
      str(app, n.migrations.get(r[0] as number));
      str(app, n.devices.get(r[1] as number));
      str(app, n.models.get(r[2] as number));
      app.appendVarchar(`${state(r[3])}>${state(r[4])}`);
      app.appendVarchar(state(r[3]));
      app.appendVarchar(state(r[4]));
      num(app, r[5]);
      num(app, r[6]);
      num(app, r[7]);
      app.appendBoolean(r[8] === 1);
      str(app, r[9]);
      num(app, r[10]);
    },
  },
  sizes: {
    sql: 'SELECT migration_ref, device_ref, at_ms, stop_copy_bytes, initial_bytes, dirty_bytes FROM sizes',
    append: (app, r, n) => {
      str(app, n.migrations.get(r[0] as number));
      str(app, n.devices.get(r[1] as number));
      for (let i = 2; i < 6; i++) num(app, r[i]);
    },
  },
  transfers: {
    sql: 'SELECT migration_ref, device_id, phase, bytes, duration_ms, link FROM transfers',
    append: (app, r, n) => {
      str(app, n.migrations.get(r[0] as number));
      str(app, r[1]);
      str(app, r[2]);
      num(app, r[3]);
      num(app, r[4]);
      str(app, r[5]);
    },
  },
  ram: {
    sql: 'SELECT migration_ref, at_ms, pass, remaining_bytes, dirty_bytes_per_s, bandwidth_bytes_per_s, expected_downtime_ms FROM ram_progress',
    append: (app, r, n) => {
      str(app, n.migrations.get(r[0] as number));
      for (let i = 1; i < 7; i++) num(app, r[i]);
    },
  },
  outcomes: {
    sql: 'SELECT migration_ref, policy, deadline_ms, decided_at_ms, predicted_blackout_ms, actual_blackout_ms, met FROM outcomes',
    append: (app, r, n) => {
      str(app, n.migrations.get(r[0] as number));
      str(app, r[1]);
      for (let i = 2; i < 6; i++) num(app, r[i]);
      app.appendBoolean(r[6] === 1);
    },
  },
};

const SQLITE_TABLE: Record<ExportTable, string> = { arcs: 'arcs', sizes: 'sizes', transfers: 'transfers', ram: 'ram_progress', outcomes: 'outcomes' };

function nameMap(store: Store, sql: string): Map<number, string> {
  return new Map(store.db.prepare(sql).raw(true).all() as Array<[number, string]>);
}

/**
 * Each migration's day (days since 1970-01-01 UTC): of its first arc, else first outcome, size
 * poll or RAM poll (each a primary-key seek). Migrations before `sinceMs`'s day are left out.
 */
export function migrationDays(store: Store, sinceMs?: number): Map<number, number> {
  const rows = store.db
    .prepare(
      `SELECT m.id, coalesce((SELECT min(started_at_ms) FROM arcs a WHERE a.migration_ref = m.id),
                             (SELECT min(decided_at_ms) FROM outcomes o WHERE o.migration_ref = m.id),
                             (SELECT min(at_ms) FROM sizes s WHERE s.migration_ref = m.id),
                             (SELECT min(at_ms) FROM ram_progress r WHERE r.migration_ref = m.id), 0) FROM migrations m`,
    )
    .raw(true)
    .all() as Array<[number, number]>;
  const fromDay = sinceMs === undefined ? -Infinity : Math.floor(sinceMs / DAY_MS);
  const out = new Map<number, number>();
  for (const [id, t0] of rows) {
    const day = Math.floor(t0 / DAY_MS);
    if (day >= fromDay) out.set(id, day);
  }
  return out;
}

function filesUnder(dir: string, prefix: string): string[] {
  const out: string[] = [];
  for (const table of EXPORT_TABLES) {
    let entries: string[];
    try {
      entries = readdirSync(join(dir, table), { recursive: true, encoding: 'utf8' });
    } catch {
      continue;
    }
    for (const e of entries) if (e.endsWith('.parquet') && e.split('/').at(-1)?.startsWith(`${prefix}_`)) out.push(`${table}/${e}`);
  }
  return out.sort();
}

/** Writes `store`'s telemetry under `outDir` as Parquet (see the module comment). */
export async function exportParquet(store: Store, outDir: string, options: ExportOptions = {}): Promise<ExportSummary> {
  const dir = resolve(outDir);
  mkdirSync(dir, { recursive: true });
  const host = options.host ?? hostname();
  const prefix = hostFilePrefix(host);
  const { DuckDBDateValue: DateValue } = await importOptional('@duckdb/node-api', 'Parquet export (DuckDB)', () => import('@duckdb/node-api'));
  const days = migrationDays(store, options.sinceMs);
  const dayValues = new Map<number, DuckDBDateValue>();
  for (const [id, day] of days) dayValues.set(id, new DateValue(day));
  const names: Names = {
    migrations: nameMap(store, 'SELECT id, migration_id FROM migrations'),
    devices: nameMap(store, 'SELECT id, device_id FROM devices'),
    models: nameMap(store, 'SELECT id, name FROM device_models'),
  };
  const totals = EXPORT_TABLES.map((t) => store.db.prepare(`SELECT count(*) FROM ${SQLITE_TABLE[t]}`).pluck().get() as number);
  const total = totals.reduce((a, b) => a + b, 0);
  const tables = {} as Record<ExportTable, { rows: number; days: number }>;
  let done = 0;
  await withDuckDb(`export to ${dir}`, async (duck) => {
    for (const table of EXPORT_TABLES) {
      await duck.run(stagingTableSql(table));
      const app = await duck.createAppender(table);
      const reader = READERS[table];
      let rows = 0;
      for (const row of store.db.prepare(reader.sql).raw(true).iterate() as IterableIterator<Row>) {
        if (++done % PROGRESS_EVERY === 0) options.onProgress?.(done, total);
        const day = dayValues.get(row[0] as number);
        if (day === undefined) continue;
        app.appendVarchar(host);
        reader.append(app, row, names);
        app.appendDate(day);
        app.endRow();
        rows++;
      }
      app.closeSync();
      const dayCount = Number((await duck.runAndReadAll(`SELECT count(DISTINCT day) FROM ${table}`)).getRows()[0]?.[0] ?? 0);
      if (rows > 0) {
        await duck.run(
          `COPY ${table} TO ${sqlString(join(dir, table))} (FORMAT PARQUET, PARTITION_BY (day), OVERWRITE_OR_IGNORE, ` +
            `FILENAME_PATTERN ${sqlString(`${prefix}_{i}`)}, KV_METADATA {vfio_sla_export: ${sqlString(String(EXPORT_FORMAT_VERSION))}, vfio_sla_table: ${sqlString(table)}})`,
        );
      }
      await duck.run(`DROP TABLE ${table}`);
      tables[table] = { rows, days: dayCount };
    }
  });
  options.onProgress?.(total, total);
  return { dir, host, migrations: days.size, tables, files: filesUnder(dir, prefix) };
}
