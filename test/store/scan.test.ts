/**
 * The store's column batches (`store/scan.ts`) read by both readers of `store/column-reader.ts`:
 * the `f64s()` extension (native/sqlite-columns.c, built on first use) and the plucked fallback
 * must give the same rows in the same order; and the reader says why when it falls back.
 */
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { columnReader, type ColumnReader } from '../../src/store/column-reader.js';
import { SCAN_COLUMNS, scanColumnBatches, type ScanColumn, type ScanTable } from '../../src/store/scan.js';
import { Store } from '../../src/store/store.js';
import { skipWithout } from '../helpers/ci.js';
import { tempDb } from './fixtures.js';

const PLUCKED: ColumnReader = { kind: 'plucked', reason: 'test' };
const TABLES = Object.keys(SCAN_COLUMNS) as ScanTable[];

/** Migration ids 1–150 and 600–749: batches of 256 ids from 1, the second of them empty. */
const MIGRATION_IDS = [...Array.from({ length: 150 }, (_, i) => i + 1), ...Array.from({ length: 150 }, (_, i) => i + 600)];

/**
 * Rows the validated writer would refuse but a store can hold (older versions, other writers):
 * integers past 2³¹ and up to 2⁵³, negative numbers, NULLs in every nullable column, text.
 */
function fill(store: Store): void {
  const db = store.db;
  const big = [2 ** 31 + 7, 2 ** 40 + 1, -(2 ** 33) - 5, 2 ** 53, 0, -1];
  db.transaction(() => {
    db.prepare("INSERT INTO device_models (id, name) VALUES (1, 'mlx5-cx7'), (2, 'qat-4xxx')").run();
    const mig = db.prepare('INSERT INTO migrations (id, migration_id) VALUES (?, ?)');
    const dev = db.prepare('INSERT INTO devices (id, migration_ref, device_id) VALUES (?, ?, ?)');
    const arc = db.prepare('INSERT INTO arcs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
    const size = db.prepare('INSERT INTO sizes VALUES (?, ?, ?, ?, ?, ?)');
    const transfer = db.prepare('INSERT INTO transfers VALUES (?, ?, ?, ?, ?, ?)');
    const ram = db.prepare('INSERT INTO ram_progress VALUES (?, ?, ?, ?, ?, ?, ?)');
    const outcome = db.prepare('INSERT INTO outcomes VALUES (?, ?, ?, ?, ?, ?, ?)');
    const attempt = db.prepare('INSERT INTO attempts VALUES (?, ?, ?, ?, ?, ?, ?)');
    for (const m of MIGRATION_IDS) {
      mig.run(m, `scan/m${m}`);
      if (m % 4 !== 0) db.prepare('UPDATE migrations SET qemu_version = ?, dest_qemu_version = ? WHERE id = ?').run(m % 3 === 0 ? '7.2.0' : '10.0.2', m % 2 === 0 ? '10.1.0' : null, m);
      for (let d = 0; d < 2; d++) {
        const device = m * 2 + d;
        dev.run(device, m, `0000:3b:00.${d}`);
        for (let k = 0; k < 3; k++) {
          const b = big[(m + d + k) % big.length] as number;
          arc.run(m, device, 1 + k, 2 + k, m * 1000.25 + k, 1 + d, k === 1 ? -0.5 : 0.125 * m, b, k % 2, k === 2 ? 'EIO' : null, d === 0 ? null : 300.5);
          size.run(m, device, m * 1000 + k, b, k === 0 ? null : -b, k === 1 ? null : 2 ** 32 + k);
        }
      }
      transfer.run(m, 'ram', 'precopy', 2 ** 34 + m, 1234.5, m % 3 === 0 ? null : '25G');
      transfer.run(m, '0000:3b:00.0', 'stopcopy', m, -0.25, null);
      for (let p = 0; p < 4; p++) ram.run(m, m * 1000 + p * 0.5, p, 2 ** 33 - p, 1e9 + p, -3.5, p === 3 ? null : 12.75);
      outcome.run(m, m % 2 === 0 ? 'governor' : 'qemu', m * 1000 + 5, 300, 250.5, -1, m % 2);
      attempt.run(m, 'governor', m % 3 === 0 ? 'aborted' : 'completed', m % 3 === 0 ? 'DEADLINE_UNREACHABLE' : 'FITS', 300, m * 10.5, m % 5 === 0 ? null : 2 ** 40 + m);
      if (m % 7 === 0) attempt.run(m, 'qemu', 'failed', 'failed in QEMU: Broken pipe', 300.5, -0.25, null);
    }
  })();
}

/** Every batch of `table`, columns as plain arrays (NaN kept: it is the NULL of a number column). */
function read(store: Store, table: ScanTable, reader: ColumnReader): unknown[][][] {
  return [...scanColumnBatches(store, table, reader)].map((batch) => batch.map((c: ScanColumn) => Array.from<unknown>(c)));
}

let tmp: ReturnType<typeof tempDb>;
let store: Store;
let extension: ColumnReader;
beforeAll(() => {
  tmp = tempDb('vfio-sla-scan-');
  store = Store.open(tmp.db);
  fill(store);
  extension = columnReader(store, { cacheDir: join(tmp.dir, 'cache') });
});
afterAll(() => {
  store.close();
  tmp.cleanup();
});

describe('column batches of the store', () => {
  it('loads the column extension where a C compiler and better-sqlite3 are', () => {
    if (skipWithout(extension.kind === 'extension', 'column extension test', extension.kind === 'plucked' ? extension.reason : '')) return;
    expect(extension).toEqual({ kind: 'extension', path: expect.stringMatching(/\/cache\/[0-9a-f]{16}\/sqlite-columns\.so$/) });
  });

  it.each(TABLES)('%s: the extension and the plucked reader give the same rows in the same order', (table) => {
    if (skipWithout(extension.kind === 'extension', 'column extension test', extension.kind === 'plucked' ? extension.reason : '')) return;
    const plucked = read(store, table, PLUCKED);
    expect(read(store, table, extension)).toEqual(plucked);
    // Two batches (ids 1–256, 513–768): the empty range between them yields none.
    expect(plucked.length).toBe(2);
  });

  it('keeps integers past 2³¹, negatives and NULLs (as NaN) of number columns, and text as text', () => {
    const [first] = read(store, 'arcs', extension.kind === 'extension' ? extension : PLUCKED);
    const column = (name: string): unknown[] => first?.[SCAN_COLUMNS.arcs.indexOf(name as never)] ?? [];
    expect(column('stop_copy_bytes').slice(0, 6)).toEqual([2 ** 40 + 1, -(2 ** 33) - 5, 2 ** 53, -(2 ** 33) - 5, 2 ** 53, 0]);
    expect(column('latency_ms').slice(0, 3)).toEqual([0.125, -0.5, 0.125]);
    expect(column('deadline_ms').slice(0, 4)).toEqual([Number.NaN, Number.NaN, Number.NaN, 300.5]);
    expect(column('errno').slice(0, 3)).toEqual([null, null, 'EIO']);
  });
});

describe('the column extension build', () => {
  let cache: string;
  let other: Store;
  beforeAll(() => {
    cache = mkdtempSync(join(tmpdir(), 'vsla-columns-'));
    other = Store.open(join(cache, 'other.db'));
  });
  afterAll(() => {
    other.close();
    rmSync(cache, { recursive: true, force: true });
  });

  it('falls back to the plucked reader, saying which compiler is missing', () => {
    expect(columnReader(other, { cacheDir: join(cache, 'no-cc'), compiler: '/nonexistent/cc' })).toEqual({
      kind: 'plucked',
      reason: "the store is read one value per row (no column extension): no C compiler '/nonexistent/cc' (install gcc, or set CC)",
    });
  });

  it("falls back saying where SQLite's extension header was looked for", () => {
    const r = columnReader(other, { cacheDir: join(cache, 'no-h'), includeDirs: [join(cache, 'nowhere')] });
    expect(r).toEqual({
      kind: 'plucked',
      reason: `the store is read one value per row (no column extension): SQLite's extension header (sqlite3ext.h) is not in ${join(cache, 'nowhere')}: reinstall better-sqlite3`,
    });
  });

  it('builds a corrupt cached extension again, and reads with it', () => {
    const good = columnReader(other, { cacheDir: join(cache, 'good') });
    if (skipWithout(good.kind === 'extension', 'column extension test', good.kind === 'plucked' ? good.reason : '')) return;
    // A copy under a path never loaded: the dynamic loader hands back a path it already loaded.
    cpSync(join(cache, 'good'), join(cache, 'spoilt'), { recursive: true });
    const [key] = readdirSync(join(cache, 'spoilt'));
    const built = join(cache, 'spoilt', key as string, 'sqlite-columns.so');
    writeFileSync(built, 'not an ELF file', { mode: 0o600 });
    const fresh = Store.open(join(cache, 'fresh.db'));
    try {
      expect(columnReader(fresh, { cacheDir: join(cache, 'spoilt') })).toEqual({ kind: 'extension', path: built });
      expect(fresh.db.prepare('SELECT hex(f64s(x)) FROM (SELECT 1 AS x UNION ALL SELECT NULL)').pluck().get()).toBe('000000000000F03F000000000000F87F');
    } finally {
      fresh.close();
    }
  });
});
