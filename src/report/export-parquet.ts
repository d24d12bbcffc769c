/**
 * `vfio-sla export`: a store's telemetry as Parquet for fleet engines (layout in
 * `export-schema.ts`). Raw rows stream from the store's scan (`store/scan.ts`: number columns
 * as Float64Arrays, read with our SQLite column extension where it builds, and text) into a
 * DuckDB staging table in data chunks, one table at a time; DuckDB resolves the ids with the
 * small reference tables, adds each migration's day and writes the files with `COPY …
 * (FORMAT PARQUET, PARTITION_BY (day))` on two other connections while the next tables are read
 * and staged. DuckDB's SQLite extension is not used: it would have to be downloaded.
 *
 * Re-exporting a host overwrites that host's file of each day it writes (names are
 * `<host>_<n>.parquet`); other hosts' files in the same folders are left alone. `sinceMs`
 * exports whole UTC days from the day it falls in, so a day's file is never replaced by part
 * of that day.
 */
import { mkdirSync, readdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { setImmediate } from 'node:timers/promises';
import { dirname, join, resolve } from 'node:path';
import type { DuckDBAppender, DuckDBConnection, DuckDBDataChunk } from '@duckdb/node-api';
import { MigState, stateName } from '../fsm/index.js';
import { assertDirTarget } from '../files/output-target.js';
import { referenceNames, rowCount, SCAN_COLUMNS, SCAN_TEXT_COLUMNS, scanColumnBatches, type ScanColumn, type ScanTable } from '../store/scan.js';
import { columnReader, type ColumnReader } from '../store/column-reader.js';
import type { Store } from '../store/store.js';
import { importOptional } from '../package/optional-dependency.js';
import { sqlString, withDuckDb } from './duckdb.js';
import { DATING_COLUMNS, MigrationDays } from './migration-days.js';
import { EXPORT_COLUMNS, EXPORT_FORMAT_VERSION, EXPORT_TABLES, hostFilePrefix, type ExportTable } from './export-schema.js';

/** Options of {@link exportParquet}. */
export interface ExportOptions {
  /** Host name written in every row and file name (default: this machine's `os.hostname()`). */
  readonly host?: string;
  /** Only migrations whose day is that of this time or later, ms (whole UTC days). */
  readonly sinceMs?: number;
  /** Rows written so far of the total. */
  readonly onProgress?: (doneRows: number, totalRows: number) => void;
  /** How the store is read. Default: the column extension where it builds ({@link columnReader}). */
  readonly reader?: ColumnReader;
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
  /** How the store was read: with the column extension, or one value per row and why. */
  readonly reader: ColumnReader;
}

const PROGRESS_EVERY = 65_536;
/** Staged rows the reading may be ahead of the COPYs: ~250 MB of doubles at ~8 columns a row. */
const STAGED_ROWS_AHEAD = 4_000_000;
/** Rows per data chunk: DuckDB's vector size (`STANDARD_VECTOR_SIZE`), the most a chunk holds. */
const CHUNK_ROWS = 2048;

/**
 * The order tables are read in: that of {@link DATING_COLUMNS}, transfers, attempts and stacks
 * (which date nothing) before the last, so the last table's COPY is not followed by another.
 */
const STAGE_ORDER = ['arcs', 'outcomes', 'sizes', 'transfers', 'attempts', 'stacks', 'ram'] as const satisfies readonly ExportTable[];

/** The store table each export table is read from. */
const SOURCE: Record<ExportTable, ScanTable> = { arcs: 'arcs', sizes: 'sizes', transfers: 'transfers', ram: 'ram_progress', outcomes: 'outcomes', attempts: 'attempts', stacks: 'stacks' };

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
  attempts: ['m.name', 'r.policy', 'r.status', 'r.reason', 'r.deadline_ms', 'r.total_time_ms', 'r.predicted_blackout_ms'],
  stacks: ['m.name', 'r.side', 'r.qemu_version'],
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
  attempts: '',
  stacks: '',
};

/** The duckdb-node types and chunk class, loaded with DuckDB (importing this module must not load it). */
type DuckDbApi = typeof import('@duckdb/node-api');

/** Column batches as `store/scan.ts` reads them: one column per staged column, all of one length. */
type ColumnBatches = Iterable<readonly ScanColumn[]>;

/**
 * Sets column `c` of `chunk` (of `size` rows) to `values[at, at + size)`. A number column is
 * copied into its DOUBLE vector whole: DuckDBDoubleVector keeps its values in a Float64Array
 * that `flush()` copies to DuckDB, so one `set()` replaces a `setItem()` call per value (1.8 s
 * of the export's 7.5 s went to those). `items` is private in its types: checked here, and any
 * other shape takes the public path. NaN is a number column's NULL ({@link ScanColumn}): made
 * NULL where the rows are read ({@link rawRows}).
 */
function setColumn(api: DuckDbApi, chunk: DuckDBDataChunk, c: number, values: ScanColumn, at: number, size: number): void {
  const vector = chunk.getColumnVector(c);
  if (values instanceof Float64Array) {
    const items = (vector as unknown as { items?: unknown }).items;
    if (vector instanceof api.DuckDBDoubleVector && items instanceof Float64Array && items.length === size) {
      items.set(values.subarray(at, at + size));
      vector.flush();
      return;
    }
  }
  for (let i = 0; i < size; i++) vector.setItem(i, values[at + i] ?? null);
  vector.flush();
}

/**
 * Appends column batches to `app` in data chunks of at most the vector size (2048), reusing one
 * chunk (DuckDB copies a chunk's rows on append; a new chunk costs a copy of its vectors into
 * JS): its strings of more than 12 bytes stay in the chunk's string heap until the table is
 * staged (shorter ones are inlined, DuckDB's `string_t`).
 */
async function appendColumns(api: DuckDbApi, app: DuckDBAppender, text: readonly boolean[], batches: ColumnBatches, onRows?: (n: number) => void): Promise<void> {
  const chunk = api.DuckDBDataChunk.create(
    text.map((t) => (t ? api.VARCHAR : api.DOUBLE)),
    CHUNK_ROWS,
  );
  for (const columns of batches) {
    const n = columns[0]?.length ?? 0;
    for (let at = 0; at < n; at += CHUNK_ROWS) {
      const size = Math.min(CHUNK_ROWS, n - at);
      // A new size drops the chunk's vector views: each column below gets one of this size.
      if (chunk.rowCount !== size) chunk.rowCount = size;
      for (let c = 0; c < text.length; c++) setColumn(api, chunk, c, columns[c] ?? [], at, size);
      app.appendDataChunk(chunk);
    }
    onRows?.(n);
    // Between batches, let the event loop see COPYs that ended: the next COPY on that
    // connection starts then, not when the whole table is staged (it waited ~2 s that way).
    await setImmediate();
  }
}

/** Creates `name` with `columns` (`[name, isText]`; the others DOUBLE) and fills it from `batches` in chunks. */
async function stage(
  api: DuckDbApi,
  duck: DuckDBConnection,
  name: string,
  columns: ReadonlyArray<readonly [string, boolean]>,
  batches: ColumnBatches,
  onRows?: (n: number) => void,
): Promise<void> {
  await duck.run(`CREATE TABLE ${name} (${columns.map(([c, text]) => `${c} ${text ? 'VARCHAR' : 'DOUBLE'}`).join(', ')})`);
  await appendTo(
    api,
    duck,
    name,
    columns.map(([, text]) => text),
    batches,
    onRows,
  );
}

/** Appends `batches` to table `name`, whose columns are text where `text` says (the others DOUBLE). */
async function appendTo(api: DuckDbApi, duck: DuckDBConnection, name: string, text: readonly boolean[], batches: ColumnBatches, onRows?: (n: number) => void): Promise<void> {
  const app = await duck.createAppender(name);
  await appendColumns(api, app, text, batches, onRows);
  app.closeSync();
}

/** `batches` as they are, each noted in `days` (column indexes of the migration and its time; -1: a table that dates none). */
function* observed(batches: ColumnBatches, days: MigrationDays, migrationAt: number, timeAt: number): Generator<readonly ScanColumn[]> {
  for (const batch of batches) {
    const [migrations, times] = [batch[migrationAt], batch[timeAt]];
    if (migrations instanceof Float64Array && times instanceof Float64Array) days.observe(migrations, times);
    yield batch;
  }
}

/** `[id, name]` pairs as one column batch. */
function pairColumns(pairs: Iterable<readonly [number, string]>): [readonly ScanColumn[]] {
  const ids: number[] = [];
  const names: string[] = [];
  for (const [id, name] of pairs) {
    ids.push(id);
    names.push(name);
  }
  return [[Float64Array.from(ids), names]];
}

/** The store's raw rows staged in `raw`, as `r` in the export's SELECT: NaN back to NULL (see {@link ScanColumn}). */
function rawRows(raw: string, source: ScanTable): string {
  const columns = SCAN_COLUMNS[source].map((c) => (SCAN_TEXT_COLUMNS.has(c) ? c : `nullif(${c}, 'NaN'::DOUBLE) AS ${c}`));
  return `(SELECT ${columns.join(', ')} FROM ${raw}) r`;
}

function* indexed(names: readonly string[]): Generator<readonly [number, string]> {
  for (const [id, name] of names.entries()) if (name !== undefined) yield [id, name];
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
  const names = referenceNames(store);
  const days = new MigrationDays(names.migrations, options.sinceMs);
  const reader = options.reader ?? columnReader(store);
  const states = Object.values(MigState).filter((v): v is MigState => typeof v === 'number').map((n) => [n, stateName(n)] as const);
  // Counting is a scan of every table: only for a progress display.
  const total = options.onProgress === undefined ? 0 : EXPORT_TABLES.reduce((n, t) => n + rowCount(store, SOURCE[t]), 0);
  const tables = new Map<ExportTable, { rows: number; days: number }>();
  let done = 0;
  const onRows = (n: number): void => {
    if (Math.floor((done + n) / PROGRESS_EVERY) > Math.floor(done / PROGRESS_EVERY)) options.onProgress?.(done + n, total);
    done += n;
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
    await stage(api, duck, 'migration_days', [['id', false], ['day', false]], []);
    // Tables are read and staged on this thread while two other connections write the files of
    // those staged before on DuckDB's threads (a partitioned COPY keeps about one busy, so once
    // the reading is done both cores write). With the column extension the reading is the
    // smaller half, and the overlap saves ~2 s of the 1 M-arc export (bench/report.ts); with the
    // plucked reader one overlapping connection was slower on 2 cores (9.3 s against 8.15 s).
    const copiers = [await db.connect(), await db.connect()];
    /** Each connection's last COPY: the next one on it starts when that has ended. */
    const lanes: Array<Promise<unknown>> = copiers.map(() => Promise.resolve());
    /** Each connection's rows staged and not yet written. */
    const queued = copiers.map(() => 0);
    /** Each table's COPY, in the order they were queued. */
    const copies: Array<Promise<void>> = [];
    /** Staged tables whose COPY waits for every migration's day (`[table, staged as, rows]`). */
    const deferred: Array<readonly [ExportTable, string, number]> = [];
    /** Writes `table`'s files from its staged rows `raw` (`staged` of them), then drops them. */
    const copyTable = async (copier: DuckDBConnection, table: ExportTable, raw: string, staged: number): Promise<void> => {
      let rows = 0;
      let dayCount = 0;
      if (staged > 0) {
        // COPY reads the join as it writes. RETURN_FILES gives the rows and files written: no
        // second scan to count them.
        const from = `FROM ${rawRows(raw, SOURCE[table])} JOIN migration_days md ON md.id = r.migration_ref LEFT JOIN names_migrations m ON m.id = r.migration_ref ${JOINS[table]}`;
        const written = (
          await copier.runAndReadAll(
            `COPY (SELECT ${selectList(table, host)} ${from}) TO ${sqlString(join(dir, table))} (FORMAT PARQUET, PARTITION_BY (day), OVERWRITE_OR_IGNORE, ` +
              `FILENAME_PATTERN ${sqlString(`${prefix}_{i}`)}, RETURN_FILES true, ` +
              `KV_METADATA {vfio_sla_export: ${sqlString(String(EXPORT_FORMAT_VERSION))}, vfio_sla_table: ${sqlString(table)}})`,
          )
        ).getRowsJS()[0];
        rows = Number(written?.[0] ?? 0);
        // One folder `day=…` per day.
        dayCount = new Set(((written?.[1] ?? []) as string[]).map((file) => dirname(file))).size;
      }
      await copier.run(`DROP TABLE ${raw}`);
      tables.set(table, { rows, days: dayCount });
    };
    try {
      // Tables in the order that dates migrations (`migration-days.ts`): when a dating table is
      // staged, every migration it has rows of has its day, which its COPY joins.
      for (const [i, table] of STAGE_ORDER.entries()) {
        // Staged rows waiting for their COPY hold memory (~8 bytes a value): past
        // STAGED_ROWS_AHEAD the reading waits for the COPYs to catch up, oldest first. Below it
        // every table is read while the arcs' COPY (the longest) runs.
        for (const copy of copies) {
          if (queued.reduce((n, rows) => n + rows, 0) < STAGED_ROWS_AHEAD) break;
          await copy;
        }
        const source = SOURCE[table];
        const raw = `raw_${table}`;
        const columns: readonly string[] = SCAN_COLUMNS[source];
        const dating = DATING_COLUMNS.find(([t]) => t === source)?.[1];
        let staged = 0;
        const batches = scanColumnBatches(store, source, reader);
        await stage(api, duck, raw, columns.map((c) => [c, SCAN_TEXT_COLUMNS.has(c)] as const), observed(batches, days, columns.indexOf('migration_ref'), dating === undefined ? -1 : columns.indexOf(dating)), (n) => {
          staged += n;
          onRows(n);
        });
        const last = i === STAGE_ORDER.length - 1;
        await appendTo(api, duck, 'migration_days', [false, false], [days.settle(last)]);
        if (dating === undefined && !last) {
          // Transfers date no migration, and one with transfers alone is day 0 once every
          // dating table is read: staged before the RAM polls, written after them, beside the
          // RAM polls' COPY rather than after it.
          deferred.push([table, raw, staged]);
          continue;
        }
        for (const [t, r, n] of [[table, raw, staged] as const, ...deferred]) {
          // The connection with the fewest rows still to write: a small table does not wait
          // behind the arcs' COPY.
          const lane = queued.indexOf(Math.min(...queued));
          queued[lane] = (queued[lane] ?? 0) + n;
          const copy = (lanes[lane] as Promise<unknown>).then(() => copyTable(copiers[lane] as DuckDBConnection, t, r, n));
          lanes[lane] = copy.then(
            () => (queued[lane] = (queued[lane] ?? 0) - n),
            () => undefined,
          );
          // Handled here, thrown by the awaits below: a failed COPY must not be an unhandled rejection while the next table stages.
          copy.catch(() => undefined);
          copies.push(copy);
        }
        deferred.length = 0;
      }
      await Promise.all(copies);
    } finally {
      await Promise.allSettled(copies);
    }
  });
  options.onProgress?.(total, total);
  return {
    dir,
    host,
    migrations: days.size,
    tables: Object.fromEntries(EXPORT_TABLES.map((t) => [t, tables.get(t) ?? { rows: 0, days: 0 }])) as Record<ExportTable, { rows: number; days: number }>,
    files: filesUnder(dir, prefix),
    outOfRange: days.outOfRange.sort((a, b) => a - b).map((id) => names.migrations[id] ?? String(id)),
    reader,
  };
}
