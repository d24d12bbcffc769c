import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listDevices, listMigrations, listRejects, tableCounts } from '../../src/store/inventory.js';
import { migrateSchema, schemaVersion } from '../../src/store/migrate.js';
import { iterateArcs, arcGroups, outcomes, ramProgress, sizes, transfers } from '../../src/store/queries.js';
import { SCHEMA_STEPS, SCHEMA_VERSION } from '../../src/store/schema.js';
import { Store, defaultDbPath } from '../../src/store/store.js';
import type { PipelineItem } from '../../src/telemetry/batch-store.js';
import { arc, outcome, pipelineItems as items, ram, size, tempDb, transfer } from './fixtures.js';

let tmp: ReturnType<typeof tempDb>;
beforeEach(() => {
  tmp = tempDb();
});
afterEach(() => tmp.cleanup());

describe('opening a store', () => {
  it('creates the file in WAL mode at the current schema version', () => {
    const store = Store.open(tmp.db);
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(schemaVersion(store.db)).toBe(SCHEMA_VERSION);
    expect(tableCounts(store)).toEqual({ migrations: 0, device_models: 0, devices: 0, arcs: 0, sizes: 0, transfers: 0, ram_progress: 0, outcomes: 0, attempts: 0, rejects: 0 });
    store.close();
  });

  it('defaults to data/vfio-sla.db under the working directory', () => {
    expect(defaultDbPath('/srv/x')).toBe('/srv/x/data/vfio-sla.db');
  });

  it('upgrades an older database step by step and keeps its rows', () => {
    const db = new Database(tmp.db);
    const v1 = [{ version: 1, description: 'table t', sql: 'CREATE TABLE t (x INTEGER);' }];
    migrateSchema(db, tmp.db, v1);
    db.prepare('INSERT INTO t VALUES (7)').run();
    const v2 = [...v1, { version: 2, description: 'column y', sql: 'ALTER TABLE t ADD COLUMN y TEXT;' }];
    expect(migrateSchema(db, tmp.db, v2)).toEqual({ fromVersion: 1, toVersion: 2 });
    expect(db.prepare('SELECT x, y FROM t').all()).toEqual([{ x: 7, y: null }]);
    expect(schemaVersion(db)).toBe(2);
    db.close();
  });

  it('refuses a database written by a newer version with E_SCHEMA_NEWER', () => {
    const db = new Database(tmp.db);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => Store.open(tmp.db)).toThrow(expect.objectContaining({ code: 'E_SCHEMA_NEWER', message: expect.stringContaining(tmp.db) }));
  });

  it('leaves the database untouched when a schema step fails', () => {
    const db = new Database(tmp.db);
    const steps = [...SCHEMA_STEPS, { version: SCHEMA_VERSION + 1, description: 'broken', sql: 'CREATE TABLE arcs (x);' }];
    expect(() => migrateSchema(db, tmp.db, steps)).toThrow(expect.objectContaining({ code: 'E_SCHEMA_MIGRATION' }));
    expect(schemaVersion(db)).toBe(0);
    db.close();
  });

  it('refuses an outdated database when opened read-only', () => {
    new Database(tmp.db).close();
    expect(() => Store.open(tmp.db, { readonly: true })).toThrow(expect.objectContaining({ code: 'E_SCHEMA_OLDER' }));
  });
});

describe('writing batches', () => {
  it('stores every kind and reads each back in its contract shape', () => {
    const store = Store.open(tmp.db);
    const records = [
      arc({ errno: 'EIO', ok: false, deadlineMs: 300 }),
      size({ initialBytes: 100 }),
      transfer(),
      ram({ expectedDowntimeMs: 300 }),
      outcome(),
    ];
    expect(store.writeBatch(items(records))).toEqual({ inserted: 5, duplicates: 0, rejected: 0 });
    expect([...iterateArcs(store)]).toEqual([records[0]]);
    expect(sizes(store, 'm1')).toEqual([records[1]]);
    expect(transfers(store)).toEqual([records[2]]);
    expect(ramProgress(store, 'm1')).toEqual([records[3]]);
    expect(outcomes(store)).toEqual([records[4]]);
    store.close();
  });

  it('does not duplicate a record ingested twice', () => {
    const store = Store.open(tmp.db);
    const records = [arc(), size(), transfer(), ram(), outcome()];
    store.writeBatch(items(records));
    expect(store.writeBatch(items(records))).toEqual({ inserted: 0, duplicates: 5, rejected: 0 });
    expect(tableCounts(store)).toMatchObject({ migrations: 1, arcs: 1, sizes: 1, transfers: 1, ram_progress: 1, outcomes: 1 });
    store.close();
  });

  it('keeps per-migration totals from transfers and the outcome, without double counting re-imports', () => {
    const store = Store.open(tmp.db);
    const records = [
      transfer({ migrationId: 'Scen/run-1', phase: 'precopy', bytes: 900, durationMs: 1000 }),
      transfer({ migrationId: 'Scen/run-1', phase: 'stopcopy', bytes: 100, durationMs: 20 }),
      transfer({ migrationId: 'Scen/run-1', deviceId: 'nic0', phase: 'stopcopy', bytes: 50, durationMs: 15 }),
      outcome({ migrationId: 'Scen/run-1', policy: 'qemu', actualBlackoutMs: 20, met: true }),
    ];
    store.writeBatch(items(records, '/data/Scen/run-1.json'));
    store.writeBatch(items(records, '/data/Scen/run-1.json'));
    expect(listMigrations(store)).toEqual([
      {
        migrationId: 'Scen/run-1',
        scenario: 'Scen',
        sourceFile: '/data/Scen/run-1.json',
        transferredBytes: 1050,
        totalTimeMs: 1020,
        downtimeMs: 20,
        deadlineMs: 300,
        predictedBlackoutMs: 150,
        met: true,
        policy: 'qemu',
      },
    ]);
    store.close();
  });

  it('records each device of a migration once, with its model once an arc names it', () => {
    const store = Store.open(tmp.db);
    store.writeBatch(items([size({ deviceId: 'nic0' }), arc({ deviceId: 'nic0', deviceModel: 'mlx5-cx7' }), arc({ deviceId: 'nic0', startedAtMs: 5 })]));
    expect(listDevices(store)).toEqual([{ migrationId: 'm1', deviceId: 'nic0', deviceModel: 'mlx5-cx7' }]);
    store.close();
  });

  it('stores rejected input with its source and does not repeat it on re-import', () => {
    const store = Store.open(tmp.db);
    const reject: PipelineItem = { reason: 'bad JSON: x', text: '{', source: { file: 'a.jsonl', line: 3 }, atMs: 5 };
    expect(store.writeBatch([reject])).toEqual({ inserted: 0, duplicates: 0, rejected: 1 });
    store.writeBatch([reject]);
    expect(listRejects(store)).toEqual([{ file: 'a.jsonl', line: 3, reason: 'bad JSON: x', text: '{', rejectedAtMs: 5 }]);
    store.close();
  });

  it('writes nothing of a batch whose transaction fails', () => {
    const store = Store.open(tmp.db);
    store.db.exec(`CREATE TRIGGER boom BEFORE INSERT ON ram_progress WHEN NEW.pass = 99 BEGIN SELECT RAISE(ABORT, 'boom'); END`);
    expect(() => store.writeBatch(items([arc(), ram({ pass: 99 })]))).toThrow('boom');
    expect(tableCounts(store)).toMatchObject({ migrations: 0, arcs: 0, devices: 0 });
    store.writeBatch(items([arc()]));
    expect(tableCounts(store)).toMatchObject({ migrations: 1, arcs: 1, devices: 1 });
    store.close();
  });
});

describe('querying arcs', () => {
  it('filters by device model, arc key and start time, in index order', () => {
    const store = Store.open(tmp.db);
    store.writeBatch(
      items([
        arc({ startedAtMs: 30 }),
        arc({ startedAtMs: 10 }),
        arc({ startedAtMs: 20, from: 'RUNNING', to: 'STOP' }),
        arc({ startedAtMs: 40, deviceModel: 'nvme-vf', deviceId: 'dev1' }),
      ]),
    );
    const starts = (f: Parameters<typeof iterateArcs>[1]): number[] => [...iterateArcs(store, f)].map((a) => a.startedAtMs);
    expect(starts({ deviceModel: 'mlx5-cx7', arc: 'PRE_COPY_P2P>STOP_COPY' })).toEqual([10, 30]);
    expect(starts({ deviceModel: 'mlx5-cx7', arc: 'PRE_COPY_P2P>STOP_COPY', sinceMs: 15 })).toEqual([30]);
    expect(starts({ migrationId: 'm1' })).toEqual([10, 20, 30, 40]);
    expect(arcGroups(store)).toEqual([
      { deviceModel: 'mlx5-cx7', arc: 'RUNNING>STOP', n: 1, okN: 1 },
      { deviceModel: 'mlx5-cx7', arc: 'PRE_COPY_P2P>STOP_COPY', n: 2, okN: 2 },
      { deviceModel: 'nvme-vf', arc: 'PRE_COPY_P2P>STOP_COPY', n: 1, okN: 1 },
    ]);
    store.close();
  });

  it('answers the model-and-arc query from the index, not a table scan', () => {
    const store = Store.open(tmp.db);
    const plan = store.db
      .prepare(`EXPLAIN QUERY PLAN SELECT * FROM arcs WHERE model_ref = ? AND from_state = ? AND to_state = ? AND started_at_ms >= ?`)
      .all(1, 1, 2, 0) as Array<{ detail: string }>;
    expect(plan.map((p) => p.detail).join(' ')).toContain('arcs_by_model_arc');
    store.close();
  });

  it('rejects a malformed arc key naming it', () => {
    const store = Store.open(tmp.db);
    expect(() => [...iterateArcs(store, { arc: 'RUNNING-STOP' })]).toThrow('"RUNNING-STOP"');
    store.close();
  });
});
