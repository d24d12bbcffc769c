/**
 * `vfio-sla export`: a store's telemetry as Parquet for fleet engines (layout in
 * `export-schema.ts`). Raw rows stream from the store's scan (`store/scan.ts`: numbers and
 * reference ids) into DuckDB in data chunks, one table at a time; DuckDB resolves the ids with
 * the small reference tables, adds each migration's day and writes the files with `COPY …
 * (FORMAT PARQUET, PARTITION_BY (day))`. DuckDB's SQLite extension is not used: it would have to
 * be downloaded.
 *
 * Re-exporting a host overwrites that host's file of each day it writes (names are
 * `<host>_<n>.parquet`); other hosts' files in the same folders are left alone. `sinceMs`
 * exports whole UTC days from the day it falls in, so a day's file is never replaced by part
 * of that day.
 */
import { mkdirSync, readdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { DuckDBAppender, DuckDBConnection, DuckDBType } from '@duckdb/node-api';
import { MigState, stateName } from '../fsm/index.js';
import { assertDirTarget } from '../files/output-target.js';
import { migrationFirstTimes, referenceNames, rowCount, SCAN_COLUMNS, SCAN_TEXT_COLUMNS, scanColumnBatches, type ScanTable } from '../store/scan.js';
import type { Store } from '../store/store.js';
import { importOptional } from '../package/optional-dependency.js';
import { MAX_TIME_MS } from '../telemetry/validate.js';
import { sqlString, withDuckDb } from './duckdb.js';
import { EXPORT_COLUMNS, EXPORT_FORMAT_VERSION, EXPORT_TABLES, hostFilePrefix, type ExportTable } from './export-schema.js';

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
  /** Migrations left out: their first time is past the year 9999, a bad stored record (by id). */
  readonly outOfRange: readonly string[];
}

const DAY_MS = 86_400_000;
const PROGRESS_EVERY = 65_536;
/** Rows per data chunk: DuckDB's vector size (`STANDARD_VECTOR_SIZE`), the most a chunk holds. */
const CHUNK_ROWS = 2048;

/** The store table each export table is read from. */
const SOURCE: Record<ExportTable, ScanTable> = { arcs: 'arcs', sizes: 'sizes', transfers: 'transfers', ram: 'ram_progress', outcomes: 'outcomes' };

/**
 * Each export table's columns after `host`, as expressions on its raw staged rows `r` (the
 * store's scan columns) joined with the reference tables: migration `m`, device `d`, model `dm`,
 * states `sf`/`st`. Cast to the column types of `export-schema.ts` (the staged numbers are
 * DOUBLE), as appending a double to those columns did.
 */
const EXPRESSIONS: Record<ExportTable, readonly string[]> = {
  arcs: ['m.name', 'd.name', 'dm.name', "sf.name || '>' || st.name", 'sf.name', 'st.name', 'r.started_at_ms', 'r.latency_ms', 'r.stop_copy_bytes', 'coalesce(r.ok = 1, false)', 'r.errno', 'r.deadline_ms'],
  sizes: ['m.name', 'd.name', 'r.at_ms', 'r.stop_copy_bytes', 'r.initial_bytes', 'r.dirty_bytes'],
  transfers: ['m.name', 'r.device_id', 'r.phase', 'r.bytes', 'r.duration_ms', 'r.link'],
  ram: ['m.name', 'r.at_ms', 'r.pass', 'r.remaining_bytes', 'r.dirty_bytes_per_s', 'r.bandwidth_bytes_per_s', 'r.expected_downtime_ms'],
  outcomes: ['m.name', 'r.policy', 'r.deadline_ms', 'r.decided_at_ms', 'r.predicted_blackout_ms', 'r.actual_blackout_ms', 'coalesce(r.met = 1, false)'],
};

/** The SELECT list of a table's rows in the export's column order and types, `day` last. */
function selectList(table: ExportTable, host: string): string {
  const [, ...columns] = EXPORT_COLUMNS[table];
  const cast = columns.map(([name, type], i) => `CAST(${EXPRESSIONS[table][i] ?? 'NULL'} AS ${type}) AS ${name}`);
  return [`CAST(${sqlString(host)} AS VARCHAR) AS host`, ...cast, `DATE '1970-01-01' + CAST(md.day AS INTEGER) AS day`].join(', ');
}

const JOINS: Record<ExportTable, string> = {
  arcs: `LEFT JOIN names_devices d ON d.id = r.device_ref LEFT JOIN names_models dm ON dm.id = r.model_ref
         LEFT JOIN names_states sf ON sf.id = r.from_state LEFT JOIN names_states st ON st.id = r.to_state`,
  sizes: 'LEFT JOIN names_devices d ON d.id = r.device_ref',
  transfers: '',
  ram: '',
  outcomes: '',
};

/** The duckdb-node types and chunk class, loaded with DuckDB (importing this module must not load it). */
type DuckDbApi = typeof import('@duckdb/node-api');

/** Column batches: one array per column, all of one length (as `store/scan.ts` reads them). */
type ColumnBatches = Iterable<readonly unknown[][]>;

/**
 * Appends column batches to `app` in data chunks of at most the vector size (2048): one native
 * call per column and chunk, where one appender call per value cost 14.9 s for a million arcs.
 * Full chunks reuse one chunk (DuckDB copies a chunk's rows on append; a new chunk costs a copy
 * of its vectors into JS): its strings of more than 12 bytes stay in the chunk's string heap
 * until the table is staged (shorter ones are inlined, DuckDB's `string_t`).
 */
function appendColumns(api: DuckDbApi, app: DuckDBAppender, types: readonly DuckDBType[], batches: ColumnBatches, onRows?: (n: number) => void): void {
  type ChunkValues = Parameters<InstanceType<DuckDbApi['DuckDBDataChunk']>['setColumnValues']>[1];
  const full = api.DuckDBDataChunk.create(types, CHUNK_ROWS);
  for (const columns of batches) {
    const n = columns[0]?.length ?? 0;
    for (let at = 0; at < n; at += CHUNK_ROWS) {
      const size = Math.min(CHUNK_ROWS, n - at);
      const chunk = size === CHUNK_ROWS ? full : api.DuckDBDataChunk.create(types, size);
      for (let c = 0; c < types.length; c++) {
        const values = columns[c] ?? [];
        chunk.setColumnValues(c, (size === n ? values : values.slice(at, at + size)) as ChunkValues);
      }
      app.appendDataChunk(chunk);
    }
    onRows?.(n);
  }
}

/** Creates `name` with `columns` (`[name, isText]`) and fills it from `batches` in chunks. */
async function stage(
  api: DuckDbApi,
  duck: DuckDBConnection,
  name: string,
  columns: ReadonlyArray<readonly [string, boolean]>,
  batches: ColumnBatches,
  onRows?: (n: number) => void,
): Promise<void> {
  await duck.run(`CREATE TABLE ${name} (${columns.map(([c, text]) => `${c} ${text ? 'VARCHAR' : 'DOUBLE'}`).join(', ')})`);
  const app = await duck.createAppender(name);
  appendColumns(api, app, columns.map(([, text]) => (text ? api.VARCHAR : api.DOUBLE)), batches, onRows);
  app.closeSync();
}

/** Pairs as one column batch. */
function pairColumns<A, B>(pairs: Iterable<readonly [A, B]>): [readonly unknown[][]] {
  const first: A[] = [];
  const second: B[] = [];
  for (const [a, b] of pairs) {
    first.push(a);
    second.push(b);
  }
  return [[first, second]];
}

function* indexed(names: readonly string[]): Generator<readonly [number, string]> {
  for (const [id, name] of names.entries()) if (name !== undefined) yield [id, name];
}

/**
 * Each migration's day (days since 1970-01-01 UTC): of its first arc, else first outcome, size
 * poll or RAM poll. Migrations before `sinceMs`'s day are left out.
 */
export function migrationDays(store: Store, sinceMs?: number, outOfRange: number[] = []): Map<number, number> {
  const fromDay = sinceMs === undefined ? -Infinity : Math.floor(sinceMs / DAY_MS);
  const out = new Map<number, number>();
  for (const [id, t0] of migrationFirstTimes(store)) {
    // A time past any clock (stored before validation bounded it) would be a partition like
    // day=318857-05-20: leave the migration out and say so, the rest still exports.
    if (!(t0 <= MAX_TIME_MS)) {
      outOfRange.push(id);
      continue;
    }
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
    // `<prefix>_<n>.parquet` exactly: host `a`'s files are not those of host `a/b` (`a_2fb_0.parquet`).
    const own = (name: string | undefined): boolean => name !== undefined && name.startsWith(`${prefix}_`) && /^\d+\.parquet$/.test(name.slice(prefix.length + 1));
    for (const e of entries) if (own(e.split('/').at(-1))) out.push(`${table}/${e}`);
  }
  return out.sort();
}

/** Writes `store`'s telemetry under `outDir` as Parquet (see the module comment). */
export async function exportParquet(store: Store, outDir: string, options: ExportOptions = {}): Promise<ExportSummary> {
  const dir = resolve(outDir);
  assertDirTarget(dir, '--out');
  mkdirSync(dir, { recursive: true });
  const host = options.host ?? hostname();
  const prefix = hostFilePrefix(host);
  const api = await importOptional('@duckdb/node-api', 'Parquet export (DuckDB)', () => import('@duckdb/node-api'));
  const outOfRange: number[] = [];
  const days = migrationDays(store, options.sinceMs, outOfRange);
  const names = referenceNames(store);
  const states = Object.values(MigState).filter((v): v is MigState => typeof v === 'number').map((n) => [n, stateName(n)] as const);
  // Counting is a scan of every table: only for a progress display.
  const total = options.onProgress === undefined ? 0 : EXPORT_TABLES.reduce((n, t) => n + rowCount(store, SOURCE[t]), 0);
  const tables = {} as Record<ExportTable, { rows: number; days: number }>;
  let done = 0;
  const onRows = (n: number): void => {
    if (Math.floor((done + n) / PROGRESS_EVERY) > Math.floor(done / PROGRESS_EVERY)) options.onProgress?.(done + n, total);
    done += n;
  };
  /** Writes `table`'s files from its staged rows `raw` (`staged` of them), then drops them. */
  const copyTable = async (duck: DuckDBConnection, table: ExportTable, raw: string, staged: number): Promise<void> => {
    let rows = 0;
    let dayCount = 0;
    if (staged > 0) {
      // No staging copy of the export rows: COPY reads the join as it writes. RETURN_FILES
      // gives the rows and files written: no second scan to count them.
      const from = `FROM ${raw} r JOIN migration_days md ON md.id = r.migration_ref LEFT JOIN names_migrations m ON m.id = r.migration_ref ${JOINS[table]}`;
      const written = (
        await duck.runAndReadAll(
          `COPY (SELECT ${selectList(table, host)} ${from}) TO ${sqlString(join(dir, table))} (FORMAT PARQUET, PARTITION_BY (day), OVERWRITE_OR_IGNORE, ` +
            `FILENAME_PATTERN ${sqlString(`${prefix}_{i}`)}, RETURN_FILES true, ` +
            `KV_METADATA {vfio_sla_export: ${sqlString(String(EXPORT_FORMAT_VERSION))}, vfio_sla_table: ${sqlString(table)}})`,
        )
      ).getRowsJS()[0];
      rows = Number(written?.[0] ?? 0);
      // One folder `day=…` per day.
      dayCount = new Set(((written?.[1] ?? []) as string[]).map((file) => dirname(file))).size;
    }
    await duck.run(`DROP TABLE ${raw}`);
    tables[table] = { rows, days: dayCount };
  };
  await withDuckDb(`export to ${dir}`, async (duck, db) => {
    const ref: ReadonlyArray<readonly [string, boolean]> = [
      ['id', false],
      ['name', true],
    ];
    await stage(api, duck, 'names_migrations', ref, pairColumns(indexed(names.migrations)));
    await stage(api, duck, 'names_devices', ref, pairColumns(indexed(names.devices)));
    await stage(api, duck, 'names_models', ref, pairColumns(indexed(names.models)));
    await stage(api, duck, 'names_states', ref, pairColumns(states));
    await stage(api, duck, 'migration_days', [['id', false], ['day', false]], pairColumns(days.entries()));
    // Table n+1 is read and staged here while a second connection writes table n's files:
    // the reading is JavaScript on this thread, COPY runs on DuckDB's threads.
    const copier = await db.connect();
    let copying: Promise<void> = Promise.resolve();
    try {
      for (const table of EXPORT_TABLES) {
        const source = SOURCE[table];
        const raw = `raw_${table}`;
        let staged = 0;
        await stage(api, duck, raw, SCAN_COLUMNS[source].map((c) => [c, SCAN_TEXT_COLUMNS.has(c)] as const), scanColumnBatches(store, source), (n) => {
          staged += n;
          onRows(n);
        });
        await copying;
        copying = copyTable(copier, table, raw, staged);
        // Handled here, thrown by the next await: a failed COPY must not be an unhandled rejection while the next table stages.
        copying.catch(() => undefined);
      }
      await copying;
    } finally {
      await copying.catch(() => undefined);
    }
  });
  options.onProgress?.(total, total);
  return {
    dir,
    host,
    migrations: days.size,
    tables,
    files: filesUnder(dir, prefix),
    outOfRange: outOfRange.map((id) => names.migrations[id] ?? String(id)),
  };
}
