import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listMigrations, type MigrationSummary } from '../../src/store/inventory.js';
import { Store } from '../../src/store/store.js';
import { importFiles, type ImportSummary } from '../../src/telemetry/import-files.js';
import { RecordingPipeline } from '../../src/telemetry/pipeline.js';
import { tempDb } from '../store/fixtures.js';

const DATASET = resolve(import.meta.dirname, '../../../shared/datasets/qemu-kvm-postgres-migration');

interface SummaryRow {
  readonly migrationId: string;
  readonly totalTimeMs: number;
  readonly downtimeMs: number;
  readonly transferredBytes: number;
}

/** derived/per_run_summary.csv: the reference every imported run is compared with. */
function perRunSummary(): SummaryRow[] {
  const [header, ...rows] = readFileSync(join(DATASET, 'derived/per_run_summary.csv'), 'utf8').trim().split('\n');
  const cols = (header ?? '').split(',');
  const col = (name: string): number => cols.indexOf(name);
  return rows.map((row) => {
    const v = row.split(',');
    return {
      migrationId: `${v[col('scenario')]}/mig-stats-run-${v[col('run')]}`,
      totalTimeMs: Number(v[col('total_time_ms')]),
      downtimeMs: Number(v[col('downtime_ms')]),
      transferredBytes: Number(v[col('transferred_bytes')]),
    };
  });
}

function runFiles(): string[] {
  const raw = join(DATASET, 'raw');
  return readdirSync(raw, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .flatMap((d) => readdirSync(join(raw, d.name)).filter((f) => /^mig-stats-run-\d+\.json$/.test(f)).map((f) => join(raw, d.name, f)))
    .sort();
}

describe('importing the qemu-kvm-postgres-migration data set', () => {
  const tmp = tempDb();
  let summary: ImportSummary;
  let migrations: Map<string, MigrationSummary>;

  beforeAll(async () => {
    const store = Store.open(tmp.db);
    const pipeline = new RecordingPipeline(store);
    summary = await importFiles(runFiles(), pipeline);
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

  it.each(perRunSummary().map((r) => [r.migrationId, r] as const))(
    '%s has the downtime, total time and transferred bytes of per_run_summary.csv',
    (id, expected) => {
      const m = migrations.get(id);
      expect({ downtimeMs: m?.downtimeMs, totalTimeMs: m?.totalTimeMs, transferredBytes: m?.transferredBytes }).toEqual({
        downtimeMs: expected.downtimeMs,
        totalTimeMs: expected.totalTimeMs,
        transferredBytes: expected.transferredBytes,
      });
      expect(m?.scenario).toBe(id.split('/')[0]);
    },
  );
});
