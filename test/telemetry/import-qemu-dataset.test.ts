import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listMigrations, type MigrationSummary } from '../../src/store/inventory.js';
import { Store } from '../../src/store/store.js';
import { importFiles, type ImportSummary } from '../../src/app/import-files.js';
import { RecordingPipeline } from '../../src/telemetry/pipeline.js';
import { datasetRunFiles, perRunSummary } from '../helpers/dataset.js';
import { tempDb } from '../store/fixtures.js';

describe('importing the qemu-kvm-postgres-migration data set', () => {
  const tmp = tempDb();
  let summary: ImportSummary;
  let migrations: Map<string, MigrationSummary>;

  beforeAll(async () => {
    const store = Store.open(tmp.db);
    const pipeline = new RecordingPipeline(store);
    summary = await importFiles(datasetRunFiles(), pipeline);
    await pipeline.close();
    migrations = new Map(listMigrations(store).map((m) => [m.migrationId, m]));
    store.close();
  });
  afterAll(() => tmp.cleanup());

  it('imports all 100 runs without a reject', () => {
    expect(summary.files).toHaveLength(100);
    expect(summary.errors).toEqual([]);
    expect(summary.rejected).toBe(0);
    expect(summary.files.every((f) => f.format === 'qmp-polls' && f.migrations === 1)).toBe(true);
    expect(migrations.size).toBe(100);
  });

  it.each([...perRunSummary()])(
    '%s has the downtime, total time and transferred bytes of per_run_summary.csv',
    (id, expected) => {
      const m = migrations.get(id);
      expect({ downtimeMs: m?.downtimeMs, totalTimeMs: m?.totalTimeMs, transferredBytes: m?.transferredBytes }).toEqual({
        downtimeMs: Number(expected['downtime_ms']),
        totalTimeMs: Number(expected['total_time_ms']),
        transferredBytes: Number(expected['transferred_bytes']),
      });
      expect(m?.scenario).toBe(id.split('/')[0]);
    },
  );
});
