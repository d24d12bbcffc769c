import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { schemaVersion } from '../../src/store/migrate.js';
import { attempts, outcomes } from '../../src/store/queries.js';
import { SCHEMA_STEPS, SCHEMA_VERSION } from '../../src/store/schema.js';
import { Store } from '../../src/store/store.js';
import { validateRecord } from '../../src/telemetry/validate.js';
import { attempt, databaseAtVersion, outcome, pipelineItems as items, tempDb } from './fixtures.js';

let tmp: ReturnType<typeof tempDb>;
beforeEach(() => {
  tmp = tempDb();
});
afterEach(() => tmp.cleanup());

describe('attempt records', () => {
  it('are schema step 3', () => {
    expect(SCHEMA_VERSION).toBeGreaterThanOrEqual(3);
    expect(SCHEMA_STEPS[2]?.description).toContain('attempts');
  });

  it('store every status and read back in their contract shape, a missing bound left out', () => {
    const store = Store.open(tmp.db);
    const written = [
      attempt({ migrationId: 'a', status: 'aborted' }),
      attempt({ migrationId: 'b', status: 'completed', reason: 'FITS', predictedBlackoutMs: 120 }),
      attempt({ migrationId: 'c', status: 'cancelled', reason: 'migrate_cancel' }),
      attempt({ migrationId: 'd', status: 'failed', reason: 'device needs reset: 0000:3b:00.2' }),
    ];
    const { predictedBlackoutMs: _, ...noBound } = attempt({ migrationId: 'e', policy: 'qemu' });
    expect(store.writeBatch(items([...written, noBound]))).toEqual({ inserted: 5, duplicates: 0, rejected: 0 });
    expect(attempts(store)).toEqual([...written, noBound]);
    expect(attempts(store, { policy: 'qemu' })).toEqual([noBound]);
    store.close();
  });

  it('are one per migration and policy: the same attempt again is a duplicate', () => {
    const store = Store.open(tmp.db);
    store.writeBatch(items([attempt()]));
    expect(store.writeBatch(items([attempt(), attempt({ reason: 'BUDGET_SPENT' })]))).toEqual({ inserted: 0, duplicates: 2, rejected: 0 });
    expect(attempts(store).map((a) => a.reason)).toEqual(['DEADLINE_UNREACHABLE']);
    store.close();
  });

  it('are refused by validation with the field named when the status is not one of the four', () => {
    expect(validateRecord({ ...attempt(), status: 'gave-up' })).toBe('attempt.status: expected "completed", "aborted", "cancelled" or "failed", got "gave-up"');
    expect(validateRecord({ ...attempt(), reason: '' })).toMatch(/^attempt\.reason: expected a reason of 1–512 characters/);
    expect(validateRecord({ ...attempt(), totalTimeMs: -1 })).toMatch(/^attempt\.totalTimeMs:/);
  });
});

describe('upgrading a version-2 database', () => {
  it('adds the attempts table on open and keeps what was stored', () => {
    databaseAtVersion(tmp.db, 2);

    const store = Store.open(tmp.db);
    expect(schemaVersion(store.db)).toBe(SCHEMA_VERSION);
    store.writeBatch(items([outcome(), attempt({ migrationId: 'm2' })]));
    expect(outcomes(store)).toEqual([outcome()]);
    expect(attempts(store)).toEqual([attempt({ migrationId: 'm2' })]);
    store.close();
  });
});

describe('store inventory', () => {
  it('counts attempts as stored records', async () => {
    const { recordCount, tableCounts } = await import('../../src/store/inventory.js');
    const store = Store.open(tmp.db);
    store.writeBatch(items([outcome(), attempt()]));
    expect(tableCounts(store).attempts).toBe(1);
    expect(recordCount(store)).toBe(2);
    store.close();
  });
});
