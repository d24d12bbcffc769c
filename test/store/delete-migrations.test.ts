import { describe, expect, it } from 'vitest';
import { listMigrations, tableCounts } from '../../src/store/inventory.js';
import { arc, outcome, pipelineItems, ram, size, storePerTest, transfer } from './fixtures.js';

const fresh = storePerTest();

const migration = (migrationId: string) => [arc({ migrationId }), size({ migrationId }), transfer({ migrationId }), ram({ migrationId }), outcome({ migrationId })];

describe('Store.deleteMigrations', () => {
  it('deletes the migrations under the prefix with every record, and nothing else', () => {
    const store = fresh.store();
    store.writeBatch(pipelineItems([...migration('demo/s1/a'), ...migration('demo/s1/b'), ...migration('demo/s10/a'), ...migration('real/x')]));
    expect(store.deleteMigrations('demo/s1/')).toBe(2);
    expect(listMigrations(store).map((m) => m.migrationId).sort()).toEqual(['demo/s10/a', 'real/x']);
    expect(tableCounts(store)).toMatchObject({ arcs: 2, sizes: 2, transfers: 2, ram_progress: 2, outcomes: 2 });
  });

  it("takes '%' and '_' in a prefix literally", () => {
    const store = fresh.store();
    store.writeBatch(pipelineItems([...migration('a_b/1'), ...migration('axb/1')]));
    expect(store.deleteMigrations('a_')).toBe(1);
    expect(store.deleteMigrations('%')).toBe(0);
    expect(listMigrations(store).map((m) => m.migrationId)).toEqual(['axb/1']);
  });

  it('writes the same migration again after deleting it (no stale cached ids)', () => {
    const store = fresh.store();
    store.writeBatch(pipelineItems(migration('demo/s1/a')));
    store.deleteMigrations('demo/');
    expect(store.writeBatch(pipelineItems(migration('demo/s1/a')))).toMatchObject({ inserted: 5 });
    expect(tableCounts(store)).toMatchObject({ arcs: 1, outcomes: 1 });
  });

  it('refuses an empty prefix', () => {
    expect(() => fresh.store().deleteMigrations('')).toThrow(/empty prefix/);
  });
});
