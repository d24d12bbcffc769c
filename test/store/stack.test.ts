import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StackRecord } from '../../src/records/records.js';
import { listMigrations, recordCount } from '../../src/store/inventory.js';
import { schemaVersion } from '../../src/store/migrate.js';
import { SCHEMA_STEPS, SCHEMA_VERSION } from '../../src/store/schema.js';
import { Store } from '../../src/store/store.js';
import { collectStore } from '../../src/store/store-records.js';
import { validateRecord } from '../../src/telemetry/validate.js';
import { arc, databaseAtVersion, outcome, pipelineItems as items, tempDb } from './fixtures.js';

let tmp: ReturnType<typeof tempDb>;
beforeEach(() => {
  tmp = tempDb();
});
afterEach(() => tmp.cleanup());

const stack = (side: StackRecord['side'], qemuVersion: string, migrationId = 'm1'): StackRecord => ({ kind: 'stack', migrationId, side, qemuVersion });

describe('stack records', () => {
  it('are schema step 4: each side’s QEMU version on its migration', () => {
    expect(SCHEMA_VERSION).toBeGreaterThanOrEqual(4);
    expect(SCHEMA_STEPS[3]?.description).toContain('qemu_version');
  });

  it('store both sides and read back in the inventory and in what the fit reads', () => {
    const store = Store.open(tmp.db);
    expect(store.writeBatch(items([arc(), stack('source', '10.0.2'), stack('destination', '9.2.0'), arc({ migrationId: 'm2' })]))).toEqual({ inserted: 4, duplicates: 0, rejected: 0 });
    const byId = new Map(listMigrations(store).map((m) => [m.migrationId, m]));
    expect(byId.get('m1')).toMatchObject({ qemuVersion: '10.0.2', destinationQemuVersion: '9.2.0' });
    // No stack record: unknown, not a guess.
    expect(byId.get('m2')).not.toHaveProperty('qemuVersion');
    const c = collectStore(store);
    expect(c.migrations.get('m1')?.qemuVersion).toEqual({ source: '10.0.2', destination: '9.2.0' });
    expect(c.migrations.get('m2')?.qemuVersion).toEqual({ source: undefined, destination: undefined });
    expect(recordCount(store)).toBe(4);
    store.close();
  });

  it('are one per migration and side: the same again, or another version, is a duplicate (the first stays)', () => {
    const store = Store.open(tmp.db);
    store.writeBatch(items([stack('source', '10.0.2')]));
    expect(store.writeBatch(items([stack('source', '10.0.2'), stack('source', '8.2.1')]))).toEqual({ inserted: 0, duplicates: 2, rejected: 0 });
    expect(listMigrations(store)[0]?.qemuVersion).toBe('10.0.2');
    store.close();
  });

  it('are refused by validation with the field named when the version is not major.minor.micro', () => {
    expect(validateRecord({ ...stack('source', '10.0.2'), qemuVersion: '10.0' })).toBe('stack.qemuVersion: expected a QEMU version "major.minor.micro", got "10.0"');
    expect(validateRecord({ ...stack('source', '10.0.2'), side: 'both' })).toBe('stack.side: expected "source" or "destination", got "both"');
    expect(validateRecord(stack('destination', '9.1.50'))).toEqual(stack('destination', '9.1.50'));
  });
});

describe('upgrading a version-3 database', () => {
  it('adds the version columns on open; what was stored reads as of an unknown stack', () => {
    databaseAtVersion(tmp.db, 3);

    const store = Store.open(tmp.db);
    expect(schemaVersion(store.db)).toBe(SCHEMA_VERSION);
    expect(listMigrations(store)[0]).not.toHaveProperty('qemuVersion');
    expect(collectStore(store).migrations.get('m1')?.outcome).toEqual(outcome());
    store.writeBatch(items([stack('source', '9.0.0')]));
    expect(listMigrations(store)[0]?.qemuVersion).toBe('9.0.0');
    store.close();
  });
});
