/**
 * Issue 18, Low item: a WAL database on read-only media could not be read. The media here is
 * real: a folder bind-mounted read-only (root with CAP_SYS_ADMIN; writes there fail with EROFS
 * for root too). What it proves: the read verbs open a checkpointed WAL database whose folder
 * SQLite cannot write (no -shm can be created), and refuse one whose -wal holds changes.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { sqliteFileUri } from '../../src/store/read-only-open.js';
import { sqlite } from '../../src/store/sqlite.js';
import { openStore, Store } from '../../src/store/store.js';
import { captureIo } from '../cli/io.js';
import { skipWithout } from '../helpers/ci.js';
import { simulateFleet, TestRng } from '../estimators/simulate.js';
import { tempDb } from './fixtures.js';

/** Whether this process may bind-mount a folder read-only (tried once, on a folder of its own). */
function canMountReadOnly(): boolean {
  const t = tempDb('vsla-ro-probe-');
  const mnt = join(t.dir, 'mnt');
  mkdirSync(mnt);
  try {
    execFileSync('mount', ['--bind', t.dir, mnt], { stdio: 'ignore' });
    execFileSync('umount', [mnt], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    t.cleanup();
  }
}

const mountable = canMountReadOnly();
const skip = skipWithout(mountable, 'read-only media test', 'it bind-mounts a folder read-only: run as root with CAP_SYS_ADMIN (mount, util-linux)');

let tmp: ReturnType<typeof tempDb>;
let media: string;
let mounted = false;
beforeEach(() => {
  tmp = tempDb('vsla-ro-');
  media = join(tmp.dir, 'media');
  mkdirSync(join(tmp.dir, 'src'));
  mkdirSync(media);
});
afterEach(() => {
  if (mounted) execFileSync('umount', [media]);
  mounted = false;
  tmp.cleanup();
});

/** Makes `media` a read-only view of `src`. */
function mountReadOnly(): void {
  execFileSync('mount', ['--bind', join(tmp.dir, 'src'), media]);
  mounted = true;
  execFileSync('mount', ['-o', 'remount,bind,ro', media]);
}

function fill(db: string, migrations: number): void {
  const store = Store.open(db);
  store.writeBatch(simulateFleet(new TestRng(5), migrations, 'lab').flat().map((record) => ({ record, source: undefined })));
  store.close(); // the last connection: checkpointed, -wal and -shm removed
}

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = captureIo(tmp.dir);
  const code = await runCli(argv, io);
  return { code, out: io.out(), err: io.err() };
}

describe.skipIf(skip)('a WAL database on read-only media', () => {
  it('is really read-only media: even root cannot write there', () => {
    mountReadOnly();
    expect(() => writeFileSync(join(media, 'x'), '')).toThrow(/EROFS/);
  });

  it('opens for reading, immutable, and reads what the database holds', () => {
    fill(join(tmp.dir, 'src', 't.db'), 12);
    mountReadOnly();
    const store = openStore(join(media, 't.db'), { readonly: true });
    try {
      expect(store.immutable).toBe(true);
      expect(store.db.prepare('SELECT COUNT(*) FROM outcomes').pluck().get()).toBe(12);
    } finally {
      store.close();
    }
    expect(readdirSync(media)).toEqual(['t.db']);
  });

  it('stats, report, export and fit read it (their outputs on writable storage)', async () => {
    fill(join(tmp.dir, 'src', 't.db'), 12);
    mountReadOnly();
    const db = join(media, 't.db');
    const runs = [
      await cli('stats', '--db', db),
      await cli('report', '--db', db, '--out', 'r.html'),
      await cli('export', '--db', db, '--out', 'parquet'),
      await cli('fit', '--db', db, '--include-simulated', '--out', 'm.json'),
    ];
    expect(runs.map((r) => [r.code, r.err])).toEqual(runs.map(() => [0, '']));
    expect(runs[0]?.out).toContain('12');
    expect(readdirSync(tmp.dir).sort()).toEqual(['m.json', 'media', 'parquet', 'r.html', 'src']);
  });

  it('a -wal holding changes not in the database is refused by name, not read as if it were not there', async () => {
    const src = join(tmp.dir, 'src');
    const live = join(tmp.dir, 'live.db');
    fill(live, 3);
    // A writer that has not checkpointed: its changes are only in live.db-wal.
    const Sqlite = sqlite();
    const writer = new Sqlite(live);
    writer.pragma('wal_autocheckpoint = 0');
    writer.exec("INSERT INTO rejects (source_file, source_line, reason, text, rejected_at_ms) VALUES ('x', 1, 'y', 'z', 0)");
    copyFileSync(live, join(src, 't.db'));
    copyFileSync(`${live}-wal`, join(src, 't.db-wal'));
    writer.close();
    mountReadOnly();
    const r = await cli('stats', '--db', join(media, 't.db'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(new RegExp(`${join(media, 't.db')}: cannot be read here: SQLite cannot create t\\.db-shm beside it .* and t\\.db-wal holds \\d+ bytes of changes not yet in the database`));
  });
});

describe('sqliteFileUri', () => {
  it('percent-encodes what a URI filename would take for its query or fragment', () => {
    expect(sqliteFileUri('/a b/50%?#.db', 'immutable=1')).toBe('file:/a b/50%25%3f%23.db?immutable=1');
  });
});
