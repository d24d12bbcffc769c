import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collectStore } from '../../src/store/store-records.js';
import { listMigrations, tableCounts } from '../../src/store/inventory.js';
import { tagTransferLinks } from '../../src/store/link-tags.js';
import { migrateSchema, schemaVersion } from '../../src/store/migrate.js';
import { transfers } from '../../src/store/queries.js';
import { SCHEMA_STEPS, SCHEMA_VERSION } from '../../src/store/schema.js';
import { Store } from '../../src/store/store.js';
import { outcome, pipelineItems as items, tempDb, transfer } from './fixtures.js';

let tmp: ReturnType<typeof tempDb>;
beforeEach(() => {
  tmp = tempDb();
});
afterEach(() => tmp.cleanup());

describe('transfers.link', () => {
  it('is schema step 2', () => {
    expect(SCHEMA_VERSION).toBeGreaterThanOrEqual(2);
    expect(SCHEMA_STEPS[1]?.description).toContain('transfers.link');
  });

  it('stores a transfer’s link and NULL for none, and reads each back in its contract shape', () => {
    const store = Store.open(tmp.db);
    const linked = transfer({ phase: 'stopcopy', link: '25G' });
    const plain = transfer({ deviceId: 'nic0' });
    expect(store.writeBatch(items([linked, plain]))).toEqual({ inserted: 2, duplicates: 0, rejected: 0 });
    expect(store.db.prepare('SELECT device_id, link FROM transfers ORDER BY device_id').all()).toEqual([
      { device_id: 'nic0', link: null },
      { device_id: 'ram', link: '25G' },
    ]);
    expect(transfers(store)).toEqual([plain, linked]);
    store.close();
  });

  it('keeps the identity of a transfer: the same one with a link later is a duplicate, and the first link stays', () => {
    const store = Store.open(tmp.db);
    store.writeBatch(items([transfer(), transfer({ deviceId: 'nic0', link: '10G' })]));
    expect(store.writeBatch(items([transfer(), transfer({ link: '25G' }), transfer({ deviceId: 'nic0', link: '100G' })]))).toEqual({
      inserted: 0,
      duplicates: 3,
      rejected: 0,
    });
    expect(transfers(store).map((t) => `${t.deviceId}:${t.link ?? '-'}`)).toEqual(['nic0:10G', 'ram:-']);
    store.close();
  });

  it('refuses an empty or over-long link even from raw SQL', () => {
    const store = Store.open(tmp.db);
    store.writeBatch(items([transfer()]));
    expect(() => store.db.prepare(`UPDATE transfers SET link = ''`).run()).toThrow(/CHECK/);
    expect(() => store.db.prepare(`UPDATE transfers SET link = ?`).run('n'.repeat(129))).toThrow(/CHECK/);
    store.close();
  });

  it('is what the fit reads: each stop-copy transfer with its link', () => {
    const store = Store.open(tmp.db);
    store.writeBatch(items([transfer({ phase: 'stopcopy', link: '100G-multifd' }), transfer({ phase: 'stopcopy', deviceId: 'nic0', bytes: 5 })]));
    const d = collectStore(store).migrations.get('m1');
    expect(d?.stopcopyTransfers.map((t) => t.link ?? null).sort()).toEqual(['100G-multifd', null]);
    store.close();
  });
});

describe('upgrading a version-1 database', () => {
  it('adds the column on open, keeps the rows (link NULL) and their totals, and takes linked transfers after', () => {
    const db = new Database(tmp.db);
    migrateSchema(db, tmp.db, SCHEMA_STEPS.slice(0, 1));
    expect(schemaVersion(db)).toBe(1);
    db.prepare(`INSERT INTO migrations (migration_id, scenario, source_file) VALUES ('Scen/run-1', 'Scen', 'old.json')`).run();
    db.prepare(`INSERT INTO transfers VALUES (1, 'ram', 'stopcopy', 100, 20)`).run();
    db.close();

    const store = Store.open(tmp.db);
    expect(schemaVersion(store.db)).toBe(SCHEMA_VERSION);
    const old = transfer({ migrationId: 'Scen/run-1', phase: 'stopcopy', bytes: 100, durationMs: 20 });
    expect(transfers(store)).toEqual([old]);
    // The old row's id is unchanged: the same record again is a duplicate.
    expect(store.writeBatch(items([old]))).toEqual({ inserted: 0, duplicates: 1, rejected: 0 });
    expect(store.writeBatch(items([transfer({ migrationId: 'Scen/run-1', deviceId: 'nic0', phase: 'stopcopy', bytes: 50, durationMs: 20, link: '25G' })]))).toMatchObject({
      inserted: 1,
    });
    expect(listMigrations(store)[0]?.transferredBytes).toBe(150);
    store.close();
  });
});

describe('opening a version-1 database read-only', () => {
  function v1Database(): void {
    const db = new Database(tmp.db);
    migrateSchema(db, tmp.db, SCHEMA_STEPS.slice(0, 1));
    db.prepare(`INSERT INTO migrations (migration_id) VALUES ('m1')`).run();
    db.prepare(`INSERT INTO transfers VALUES (1, 'ram', 'stopcopy', 100, 20)`).run();
    db.close();
  }

  it('upgrades it first, as a writable open would, so fit, stats and report read it', () => {
    v1Database();
    const store = Store.open(tmp.db, { readonly: true });
    expect(schemaVersion(store.db)).toBe(SCHEMA_VERSION);
    expect(transfers(store)).toEqual([transfer({ phase: 'stopcopy', bytes: 100, durationMs: 20 })]);
    expect(collectStore(store).migrations.get('m1')?.stopcopyTransfers).toHaveLength(1);
    store.close();
  });

  it('refuses it with E_SCHEMA_OLDER when it cannot upgrade it now (another writer holds the lock)', () => {
    v1Database();
    const writer = new Database(tmp.db);
    writer.pragma('journal_mode = WAL');
    writer.prepare('BEGIN IMMEDIATE').run();
    try {
      expect(() => Store.open(tmp.db, { readonly: true, busyTimeoutMs: 10 })).toThrow(expect.objectContaining({ code: 'E_SCHEMA_OLDER' }));
    } finally {
      writer.prepare('ROLLBACK').run();
      writer.close();
    }
    const store = Store.open(tmp.db, { readonly: true });
    expect(schemaVersion(store.db)).toBe(SCHEMA_VERSION);
    store.close();
  });
});

describe('tagTransferLinks', () => {
  it('tags the link-less transfers of the migrations from the given files, and only those', () => {
    const store = Store.open(tmp.db);
    store.writeBatch(items([transfer({ migrationId: 'a' }), transfer({ migrationId: 'a', deviceId: 'nic0', link: '10G' })], '/data/a.json'));
    store.writeBatch(items([transfer({ migrationId: 'b' }), outcome({ migrationId: 'b' })], '/data/b.json'));
    expect(tagTransferLinks(store, ['/data/a.json'], '25G')).toBe(1);
    expect(tagTransferLinks(store, ['/data/a.json'], '25G')).toBe(0);
    expect(transfers(store).map((t) => `${t.migrationId}/${t.deviceId}:${t.link ?? '-'}`)).toEqual(['a/nic0:10G', 'a/ram:25G', 'b/ram:-']);
    expect(tableCounts(store).transfers).toBe(3);
    store.close();
  });
});
