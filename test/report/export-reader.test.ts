/**
 * The Parquet export with each of the store's readers (`store/column-reader.ts`): the column
 * extension and the plucked fallback write the same records, and the summary says which read.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { exportParquet } from '../../src/report/export-parquet.js';
import { readParquetRecords } from '../../src/report/parquet-records.js';
import { columnReader } from '../../src/store/column-reader.js';
import { openStore, type Store } from '../../src/store/store.js';
import type { TelemetryRecord } from '../../src/records/records.js';
import { captureIo } from '../cli/io.js';
import { skipWithout } from '../helpers/ci.js';
import { tempDb } from '../store/fixtures.js';
import { buildLabStore } from './lab-store.js';

const canonical = (records: readonly TelemetryRecord[]): string[] => records.map((r) => JSON.stringify(Object.fromEntries(Object.entries(r).sort(([a], [b]) => a.localeCompare(b))))).sort();

let tmp: ReturnType<typeof tempDb>;
let store: Store;
beforeAll(async () => {
  tmp = tempDb('vfio-sla-export-reader-');
  await buildLabStore(tmp.db, { migrations: 24 });
  store = openStore(tmp.db, { readonly: true });
});
afterAll(() => {
  store.close();
  tmp.cleanup();
});

describe('export with either store reader', () => {
  it('writes the same records with the column extension as one value per row, and says which read', async () => {
    const extension = columnReader(store, { cacheDir: join(tmp.dir, 'cache') });
    if (skipWithout(extension.kind === 'extension', 'column extension export test', extension.kind === 'plucked' ? extension.reason : '')) return;
    const fast = await exportParquet(store, join(tmp.dir, 'fast'), { host: 'lab', reader: extension });
    const slow = await exportParquet(store, join(tmp.dir, 'slow'), { host: 'lab', reader: { kind: 'plucked', reason: 'asked for' } });
    expect(fast.reader).toEqual(extension);
    expect(slow.reader).toEqual({ kind: 'plucked', reason: 'asked for' });
    expect(slow.tables).toEqual(fast.tables);
    expect(slow.files).toEqual(fast.files);
    const records = canonical(await readParquetRecords(join(tmp.dir, 'fast')));
    expect(records.length).toBe(Object.values(fast.tables).reduce((n, t) => n + t.rows, 0));
    expect(fast.tables.arcs.rows).toBeGreaterThan(0);
    expect(canonical(await readParquetRecords(join(tmp.dir, 'slow')))).toEqual(records);
  });

  it('export --json and fit --json say how the store was read', async () => {
    for (const args of [
      ['export', '--db', tmp.db, '--out', 'cli-export', '--host', 'lab', '--json'],
      ['fit', '--db', tmp.db, '--out', 'models/m.json', '--json'],
    ]) {
      const io = captureIo(tmp.dir);
      expect(await runCli(args, io)).toBe(0);
      const { reader } = JSON.parse(io.out()) as { reader: { kind: string; path?: string; reason?: string } };
      if (skipWithout(reader.kind === 'extension', 'column extension CLI test', reader.reason ?? '')) return;
      expect(reader.path).toMatch(/\/vfio-sla\/sqlite-columns\/[0-9a-f]{16}\/sqlite-columns\.so$/);
    }
  });

  it.each(['arcs', 'ram'])('fails with E_DUCKDB, naming the export, when the %s files cannot be written (the other COPYs still end)', async (table) => {
    const out = join(tmp.dir, `blocked-${table}`);
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, table), 'not a folder'); // COPY … TO <out>/<table> needs a folder there
    await expect(exportParquet(store, out, { host: 'lab' })).rejects.toMatchObject({ code: 'E_DUCKDB', message: expect.stringContaining(`export to ${out}: `) });
  });
});
