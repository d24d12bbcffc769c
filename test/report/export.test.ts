import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import type { ArcStats } from '../../src/report/arc-stats.js';
import { ReportError } from '../../src/report/errors.js';
import { readParquetRecords } from '../../src/report/parquet-records.js';
import { listMigrations } from '../../src/store/inventory.js';
import { attempts, iterateArcs, outcomes, ramProgress, sizes, transfers } from '../../src/store/queries.js';
import { countingRecorder } from '../helpers/recording.js';
import { openStore } from '../../src/store/store.js';
import type { TelemetryRecord } from '../../src/records/records.js';
import { captureIo } from '../cli/io.js';
import { tempDb } from '../store/fixtures.js';
import { buildLabStore, LAB_DAY0_MS, LAB_SPACING_MS } from './lab-store.js';

const MIGRATIONS = 64;
const DAYS = Math.ceil((MIGRATIONS * LAB_SPACING_MS) / 86_400_000);

let tmp: ReturnType<typeof tempDb>;
let duck: DuckDBConnection;
let instance: DuckDBInstance;
beforeAll(async () => {
  tmp = tempDb('vfio-sla-export-');
  await buildLabStore(tmp.db, { migrations: MIGRATIONS });
  await addEndsAndStacks(tmp.db);
  instance = await DuckDBInstance.create(':memory:');
  duck = await instance.connect();
});
afterAll(() => {
  duck.closeSync();
  instance.closeSync();
  tmp.cleanup();
});

/**
 * How each lab migration ended, as its runner records it: completed where it has an outcome (with
 * that outcome's policy), else a governor abort. Every fourth a different reason, one with no bound.
 * And the stack of most: the source's QEMU version on all but every fifth, the destination's on
 * every other — a third of them before 8.2, whose source stops each device inside the blackout,
 * which the fit then places there (`estimators/stack.ts`).
 */
async function addEndsAndStacks(db: string): Promise<void> {
  const store = openStore(db);
  const { pipeline, sink } = countingRecorder(store);
  const done = new Map(outcomes(store).map((o) => [o.migrationId, o]));
  for (const [i, m] of listMigrations(store).entries()) {
    const o = done.get(m.migrationId);
    sink.push(
      o === undefined
        ? { kind: 'attempt', migrationId: m.migrationId, policy: 'governor', status: 'aborted', reason: i % 4 === 0 ? 'BUDGET_SPENT' : 'DEADLINE_UNREACHABLE', deadlineMs: 1000, totalTimeMs: 1000 + i * 7.5, ...(i % 4 === 0 ? {} : { predictedBlackoutMs: 1500 + i }) }
        : { kind: 'attempt', migrationId: m.migrationId, policy: o.policy, status: 'completed', reason: 'FITS', deadlineMs: o.deadlineMs, totalTimeMs: 20_000 + i * 3.25, predictedBlackoutMs: o.predictedBlackoutMs },
    );
    if (i % 5 !== 0) sink.push({ kind: 'stack', migrationId: m.migrationId, side: 'source', qemuVersion: i % 3 === 0 ? '7.2.0' : '10.0.2' });
    if (i % 2 === 0) sink.push({ kind: 'stack', migrationId: m.migrationId, side: 'destination', qemuVersion: '10.0.2' });
  }
  await pipeline.close();
  store.close();
}

async function cli(args: string[], options: { tty?: boolean } = {}): Promise<{ code: number; out: string; err: string }> {
  const io = captureIo(tmp.dir, options);
  const code = await runCli(args, io);
  return { code, out: io.out(), err: io.err() };
}

function sqliteCount(table: string): number {
  const db = new Database(tmp.db, { readonly: true });
  try {
    return db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
  } finally {
    db.close();
  }
}

async function rows(sql: string): Promise<unknown[][]> {
  return (await duck.runAndReadAll(sql)).getRowsJS() as unknown[][];
}

const parquet = (dir: string, table: string): string => `read_parquet('${join(tmp.dir, dir, table)}/*/*.parquet', hive_partitioning = true)`;
/** Each exported table and its rows in the store (a table, or for stacks the sides with a version). */
const TABLES = [
  ['arcs', 'arcs'],
  ['sizes', 'sizes'],
  ['transfers', 'transfers'],
  ['ram', 'ram_progress'],
  ['outcomes', 'outcomes'],
  ['attempts', 'attempts'],
  ['stacks', '(SELECT qemu_version AS v FROM migrations UNION ALL SELECT dest_qemu_version FROM migrations) WHERE v IS NOT NULL'],
] as const;

/** Every record of the store, as the contract shapes. */
function storeRecords(): TelemetryRecord[] {
  const store = openStore(tmp.db, { readonly: true });
  try {
    const out: TelemetryRecord[] = [...iterateArcs(store), ...transfers(store), ...outcomes(store), ...attempts(store)];
    for (const m of listMigrations(store)) {
      out.push(...ramProgress(store, m.migrationId), ...sizes(store, m.migrationId));
      if (m.qemuVersion !== undefined) out.push({ kind: 'stack', migrationId: m.migrationId, side: 'source', qemuVersion: m.qemuVersion });
      if (m.destinationQemuVersion !== undefined) out.push({ kind: 'stack', migrationId: m.migrationId, side: 'destination', qemuVersion: m.destinationQemuVersion });
    }
    return out;
  } finally {
    store.close();
  }
}

const canonical = (records: readonly TelemetryRecord[]): string[] => records.map((r) => JSON.stringify(Object.fromEntries(Object.entries(r).sort(([a], [b]) => a.localeCompare(b))))).sort();

describe('vfio-sla export', () => {
  beforeAll(async () => {
    const r = await cli(['export', '--db', tmp.db, '--out', 'fleet', '--host', 'lab-a', '--json']);
    expect(r.code).toBe(0);
  });

  it('writes each table as Parquet partitioned by day, one file per day named after the host', () => {
    for (const [table] of TABLES) {
      const days = readdirSync(join(tmp.dir, 'fleet', table)).sort();
      expect(days[0]).toBe('day=2025-03-01');
      expect(days.length).toBeLessThanOrEqual(DAYS);
      for (const d of days) expect(readdirSync(join(tmp.dir, 'fleet', table, d))).toEqual(['lab-a_0.parquet']);
    }
    expect(readdirSync(join(tmp.dir, 'fleet', 'arcs')).length).toBe(DAYS);
  });

  it('holds every row of the store: DuckDB counts match SQLite table by table', async () => {
    for (const [table, sqlite] of TABLES) {
      const [[n]] = (await rows(`SELECT count(*) FROM ${parquet('fleet', table)}`)) as [[bigint]];
      expect(Number(n), table).toBe(sqliteCount(sqlite));
    }
  });

  it('gives DuckDB the p99 per device model and arc that vfio-sla stats reports', async () => {
    const stats = await cli(['stats', '--db', tmp.db, '--only', 'arcs', '--format', 'json']);
    const arcs = (JSON.parse(stats.out) as { arcs: ArcStats[] }).arcs;
    const duckP99 = new Map(
      (await rows(`SELECT device_model || '|' || arc, quantile_cont(latency_ms, 0.99), count(*) FROM ${parquet('fleet', 'arcs')} WHERE ok GROUP BY ALL`)).map((r) => [r[0] as string, [r[1] as number, Number(r[2])]]),
    );
    const withOk = arcs.filter((a) => a.p99Ms !== null);
    expect(duckP99.size).toBe(withOk.length);
    for (const a of withOk) {
      const [p99, okN] = duckP99.get(`${a.deviceModel}|${a.arc}`)!;
      expect(okN).toBe(a.n - a.failed);
      expect(p99).toBeCloseTo(a.p99Ms!, 9);
    }
  });

  it('keeps all rows of a migration in one day, the day its first arc started', async () => {
    const union = TABLES.map(([t]) => `SELECT migration_id, day FROM ${parquet('fleet', t)}`).join(' UNION ALL ');
    expect(await rows(`SELECT migration_id FROM (${union}) GROUP BY migration_id HAVING count(DISTINCT day) > 1`)).toEqual([]);
    const [[day]] = (await rows(`SELECT DISTINCT CAST(day AS VARCHAR) FROM ${parquet('fleet', 'arcs')} WHERE migration_id = 'lab/qemu-017'`)) as [[string]];
    expect(day).toBe(new Date(LAB_DAY0_MS + 17 * LAB_SPACING_MS).toISOString().slice(0, 10));
  });

  it('marks each file with the export format version', async () => {
    const file = join(tmp.dir, 'fleet', 'outcomes', 'day=2025-03-01', 'lab-a_0.parquet');
    const meta = await rows(`SELECT CAST(key AS VARCHAR), CAST(value AS VARCHAR) FROM parquet_kv_metadata('${file}') WHERE CAST(key AS VARCHAR) LIKE 'vfio_sla%' ORDER BY 1`);
    expect(meta).toEqual([
      ['vfio_sla_export', '1'],
      ['vfio_sla_table', 'outcomes'],
    ]);
  });

  it('reads back every record exactly as the store holds it', async () => {
    expect(canonical(await readParquetRecords(join(tmp.dir, 'fleet')))).toEqual(canonical(storeRecords()));
  });

  it('fits from the Parquet directory the same model as from the store', async () => {
    expect((await cli(['fit', '--db', tmp.db, '--out', 'models/from-db.json'])).code).toBe(0);
    const fit = await cli(['fit', '--parquet', 'fleet', '--out', 'models/from-parquet.json', '--json']);
    expect(fit.code).toBe(0);
    const load = (f: string): Record<string, unknown> => JSON.parse(readFileSync(join(tmp.dir, 'models', f), 'utf8')) as Record<string, unknown>;
    const { name: _a, fittedAt: _b, provenance: fromDbProvenance, ...fromDb } = load('from-db.json');
    const { name: _c, fittedAt: _d, provenance, ...fromParquet } = load('from-parquet.json');
    expect(provenance).toMatch(/^parquet .*fleet: \d+ migrations \(\d+ real, 0 simulated\); priors: priors$/);
    expect(fromDbProvenance).toMatch(/^store /);
    expect(fromParquet).toEqual(fromDb);
    expect((fromParquet['calibration'] as { n: number }).n).toBe(sqliteCount('outcomes'));
    // The stacks came through and matter: without their folder the fit is another model.
    cpSync(join(tmp.dir, 'fleet'), join(tmp.dir, 'no-stacks'), { recursive: true });
    rmSync(join(tmp.dir, 'no-stacks', 'stacks'), { recursive: true });
    expect((await cli(['fit', '--parquet', 'no-stacks', '--out', 'models/no-stacks.json'])).code).toBe(0);
    const { name: _e, fittedAt: _f, provenance: _g, ...withoutStacks } = load('no-stacks.json');
    expect(withoutStacks).not.toEqual(fromDb);
  });

  it('re-exporting a host replaces its files: no row twice', async () => {
    expect((await cli(['export', '--db', tmp.db, '--out', 'fleet', '--host', 'lab-a'])).code).toBe(0);
    const [[n]] = (await rows(`SELECT count(*) FROM ${parquet('fleet', 'arcs')}`)) as [[bigint]];
    expect(Number(n)).toBe(sqliteCount('arcs'));
  });

  it("shares a directory between hosts, and the reader tells one host's migrations from another's", async () => {
    mkdirSync(join(tmp.dir, 'two'), { recursive: true });
    for (const host of ['lab-a', 'lab-b']) expect((await cli(['export', '--db', tmp.db, '--out', 'two', '--host', host])).code).toBe(0);
    const perHost = await rows(`SELECT host, count(*) FROM ${parquet('two', 'outcomes')} GROUP BY host ORDER BY host`);
    expect(perHost.map((r) => [r[0], Number(r[1])])).toEqual([
      ['lab-a', sqliteCount('outcomes')],
      ['lab-b', sqliteCount('outcomes')],
    ]);
    const both = await readParquetRecords(join(tmp.dir, 'two'));
    expect(both.length).toBe(2 * storeRecords().length);
    expect(new Set(both.map((r) => r.migrationId.split('@')[1]))).toEqual(new Set(['lab-a', 'lab-b']));
    const one = await readParquetRecords(join(tmp.dir, 'two'), { host: 'lab-b' });
    expect(canonical(one)).toEqual(canonical(storeRecords()));
  });

  it('exports whole days from --since on', async () => {
    const since = new Date(LAB_DAY0_MS + 5 * 86_400_000 + 7 * 3_600_000).toISOString();
    const r = await cli(['export', '--db', tmp.db, '--out', 'recent', '--host', 'lab-a', '--since', since, '--json']);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.out) as { migrations: number; tables: { arcs: { days: number } } };
    expect(readdirSync(join(tmp.dir, 'recent', 'arcs')).sort()[0]).toBe('day=2025-03-06');
    expect(summary.tables.arcs.days).toBe(DAYS - 5);
    expect(summary.migrations).toBe(MIGRATIONS - 5 * (86_400_000 / LAB_SPACING_MS));
  });

  it("says the store's date range when --since leaves nothing to export", async () => {
    const r = await cli(['export', '--db', tmp.db, '--out', 'none', '--host', 'lab-a', '--since', '2099-01-01']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^exported 0 migrations/);
    expect(r.err).toMatch(/^vfio-sla export: nothing matches since 2099-01-01T00:00:00\.000Z; the store's records run from 2025-03-01T[0-9:.]+Z to 2025-\d\d-\d\dT[0-9:.]+Z\n$/);
  });

  it('shows progress on a terminal and prints what it wrote', async () => {
    const r = await cli(['export', '--db', tmp.db, '--out', 'tty', '--host', 'lab-a'], { tty: true });
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/export: rows \[#+\] 100% /);
    expect(r.out).toMatch(new RegExp(`^exported ${MIGRATIONS} migrations of host lab-a to .*tty: arcs \\d+, sizes \\d+, transfers \\d+, ram \\d+, outcomes \\d+, attempts \\d+, stacks \\d+ rows over ${DAYS} days, ${7 * DAYS} files\\n$`));
  });

  it.each([
    [['export', '--out', 'x'], "--db: no database at '"],
    [['export', '--db', 'DB'], '--out <dir> is required'],
    [['export', '--db', 'DB', '--out', 'x', '--host', ' '], "--host must name the host, got ' '"],
    [['export', '--db', 'DB', '--out', 'x', '--since', 'soon'], "--since: not a time: 'soon'"],
    [['fit', '--parquet', 'no-such-dir', '--out', 'm.json'], "--parquet: no directory at 'no-such-dir'"],
    [['fit', '--parquet', 'fleet', '--db', 'DB', '--out', 'm.json'], '--db and --parquet exclude each other'],
  ])('refuses %j, naming the option', async (args, message) => {
    const r = await cli(args.map((a) => (a === 'DB' ? tmp.db : a)));
    expect(r.code).toBe(2);
    expect(r.err).toContain(message);
  });

  it('refuses to read a directory that is not an export, with E_BAD_EXPORT', async () => {
    mkdirSync(join(tmp.dir, 'empty'), { recursive: true });
    await expect(readParquetRecords(join(tmp.dir, 'empty'))).rejects.toThrow(ReportError);
    await expect(readParquetRecords(join(tmp.dir, 'empty'))).rejects.toMatchObject({ code: 'E_BAD_EXPORT' });
  });

  it('refuses an attempt whose status is none of the four, naming the migration (E_BAD_EXPORT)', async () => {
    const dir = join(tmp.dir, 'bad-status', 'attempts', 'day=2025-03-01');
    mkdirSync(dir, { recursive: true });
    await duck.run(
      `COPY (SELECT 'h' AS host, 'm1' AS migration_id, 'governor' AS policy, 'gave-up' AS status, 'x' AS reason, 300.0 AS deadline_ms, 1.0 AS total_time_ms, NULL::DOUBLE AS predicted_blackout_ms) TO '${join(dir, 'h_0.parquet')}' (FORMAT PARQUET)`,
    );
    await expect(readParquetRecords(join(tmp.dir, 'bad-status'))).rejects.toMatchObject({ code: 'E_BAD_EXPORT', message: expect.stringContaining('attempts of m1: attempt.status: expected \"completed\", \"aborted\", \"cancelled\" or \"failed\", got \"gave-up\"') as string });
  });
});
