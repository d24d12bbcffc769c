/**
 * What a fit reads from the store (`store/store-records.ts`) is the same whichever reader reads
 * the arcs and transfers (`store/column-reader.ts`): migrations in the same order, arcs as the
 * same columns. (That it is what the records say: `report/export.test.ts` fits from a store and
 * from its Parquet export and gets the same model.)
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { columnReader } from '../../src/store/column-reader.js';
import { collectStore } from '../../src/store/store-records.js';
import { openStore, type Store } from '../../src/store/store.js';
import { buildLabStore } from '../report/lab-store.js';
import { skipWithout } from '../helpers/ci.js';
import { tempDb } from './fixtures.js';

let tmp: ReturnType<typeof tempDb>;
let store: Store;
beforeAll(async () => {
  tmp = tempDb('vfio-sla-store-records-');
  await buildLabStore(tmp.db, { migrations: 40 });
  // The lab records no pre-copy transfers: the RAM one of every third migration (read) and a
  // device's (not read) beside it.
  const writable = openStore(tmp.db);
  writable.db
    .prepare("INSERT INTO transfers SELECT id, 'ram', 'precopy', 1000000 * id, 2000.5, '25G' FROM migrations WHERE id % 3 = 0")
    .run();
  writable.db.prepare("INSERT INTO transfers SELECT id, 'dev0', 'precopy', 5, 1, NULL FROM migrations WHERE id % 3 = 0").run();
  writable.close();
  store = openStore(tmp.db, { readonly: true });
});
afterAll(() => {
  store.close();
  tmp.cleanup();
});

describe("the fit's read of the store", () => {
  it('collects the same migrations, in the same order, with the column extension as one value per row', () => {
    const extension = columnReader(store, { cacheDir: join(tmp.dir, 'cache') });
    if (skipWithout(extension.kind === 'extension', 'column extension fit-read test', extension.kind === 'plucked' ? extension.reason : '')) return;
    const fast = [...collectStore(store, () => true, extension).migrations];
    const slow = [...collectStore(store, () => true, { kind: 'plucked', reason: 'asked for' }).migrations];
    expect(fast.length).toBe(40);
    expect(fast.reduce((n, [, d]) => n + d.arcOk.length, 0)).toBeGreaterThan(40);
    expect(fast.filter(([, d]) => d.stopcopyTransfers.length > 0).length).toBeGreaterThan(0);
    expect(fast.filter(([, d]) => d.ramPrecopyTransfer !== undefined).length).toBe(13);
    expect(fast).toEqual(slow);
  });

  it('leaves out the migrations keep refuses', () => {
    const kept = collectStore(store, (id) => id.endsWith('7'));
    expect([...kept.migrations.keys()].every((id) => id.endsWith('7'))).toBe(true);
    expect(kept.migrations.size).toBe(4);
  });
});
