/**
 * Issue 18, items 7 and 10: a spill file that could not be written was reported as "no spill
 * file configured" and the records it could not keep were not counted; a corrupted database
 * turned valid records into per-record rejects and wrote those into the corrupt file.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { recordCount } from '../../src/store/inventory.js';
import { Store } from '../../src/store/store.js';
import { spillPathFor } from '../../src/telemetry/spill.js';
import { NotCommittedError } from '../../src/telemetry/errors.js';
import { RecordingPipeline } from '../../src/telemetry/pipeline.js';
import { captureIo } from '../cli/io.js';
import { arcs, tempDb } from '../store/fixtures.js';

let tmp: ReturnType<typeof tempDb>;
beforeEach(() => {
  tmp = tempDb('vfio-sla-faults-');
});
afterEach(() => tmp.cleanup());

const sha = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('a spill file that cannot be written', () => {
  it('close() says how many records were NOT kept and why, never "no spill file configured"', async () => {
    const store = Store.open(tmp.db);
    // The disk refuses the database (a page cap: SQLITE_FULL) and the spill file (its folder is a file: ENOTDIR).
    store.db.pragma(`max_page_count = ${store.db.pragma('page_count', { simple: true }) as number}`);
    writeFileSync(join(tmp.dir, 'not-a-dir'), '');
    const spillPath = join(tmp.dir, 'not-a-dir', 'spill.jsonl');
    const pipeline = new RecordingPipeline(store, { batchSize: 100, maxQueuedItems: 200, spillPath, retryInitialMs: 5, retryMaxMs: 10 });
    pipeline.errors$.subscribe({ error: () => undefined });
    for (const r of arcs(1000)) pipeline.push(r);
    const e = await pipeline.close({ timeoutMs: 50 }).then(
      () => undefined,
      (x: unknown) => x,
    );
    store.close();
    expect(e).toBeInstanceOf(NotCommittedError);
    const err = e as NotCommittedError;
    expect(err.pendingItems).toBeGreaterThan(0);
    expect(err.lostItems).toBe(err.pendingItems);
    expect(err.message).toMatch(new RegExp(`^${err.pendingItems} records not committed; ${err.pendingItems} of them NOT kept`));
    expect(err.message).toMatch(/NOT kept and lost at exit: the spill file .*spill\.jsonl could not be written \(ENOTDIR/);
    expect(err.message).not.toContain('no spill file configured');
  });
});

describe('a corrupted database', () => {
  /** A store with real data whose table pages past the first few are overwritten with garbage. */
  function corruptStore(): void {
    const store = Store.open(tmp.db);
    store.writeBatch(arcs(4000).map((record) => ({ record, source: undefined })));
    store.close();
    const pageSize = 4096;
    const pages = statSync(tmp.db).size / pageSize;
    const fd = openSync(tmp.db, 'r+');
    const junk = Buffer.alloc(pageSize, 0xa5);
    for (let p = Math.floor(pages / 2); p < pages; p++) writeSync(fd, junk, 0, pageSize, p * pageSize);
    closeSync(fd);
  }

  it('import stops at the first write, says the file is corrupt and how to recover, rejects nothing, writes nothing', async () => {
    corruptStore();
    const before = sha(tmp.db);
    const file = join(tmp.dir, 'more.jsonl');
    writeFileSync(file, arcs(300, 'm2').map((r) => JSON.stringify(r)).join('\n') + '\n');
    const io = captureIo(tmp.dir);
    const code = await runCli(['import', file, '--db', tmp.db, '--json', '--retry-for', '30'], io);
    expect(code).toBe(1);
    const summary = JSON.parse(io.out()) as { rejected: number; inserted: number; complete: boolean };
    expect([summary.rejected, summary.inserted, summary.complete]).toEqual([0, 0, false]);
    expect(io.err()).toMatch(/SQLITE_CORRUPT.*the database file is corrupt; nothing more is written to it/);
    expect(io.err()).toContain('.recover');
    expect(sha(tmp.db)).toBe(before);
  });
});

describe('spill files of a dead process', () => {
  /** An orphan spill file of `n` arcs in batches of 8192, as a killed importer leaves it. */
  function orphanSpill(n: number): string {
    const pid = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
    const path = spillPathFor(tmp.db, pid);
    const all = arcs(n, 'orphan');
    const lines: string[] = [];
    for (let i = 0; i < all.length; i += 8192) lines.push(JSON.stringify({ lastSeq: i + 8192, items: all.slice(i, i + 8192).map((record) => ({ record })) }));
    writeFileSync(path, `${lines.join('\n')}\n`);
    return path;
  }

  it('an import replays them to the end before it reports complete (it stopped at 131,072 of 200,000)', async () => {
    Store.open(tmp.db).close();
    const spill = orphanSpill(200_000);
    const file = join(tmp.dir, 'empty.jsonl');
    writeFileSync(file, '\n');
    const io = captureIo(tmp.dir);
    expect(await runCli(['import', file, '--db', tmp.db, '--json'], io)).toBe(0);
    expect((JSON.parse(io.out()) as { complete: boolean }).complete).toBe(true);
    expect(existsSync(spill)).toBe(false);
    const store = Store.open(tmp.db, { readonly: true });
    expect(recordCount(store)).toBe(200_000);
    store.close();
  });

  it('close() that cannot wait for the replay says which files are left instead of resolving', async () => {
    const store = Store.open(tmp.db);
    const spill = orphanSpill(40_000);
    const pipeline = new RecordingPipeline(store);
    const e = await pipeline.close({ timeoutMs: 0 }).then(
      () => undefined,
      (x: unknown) => x,
    );
    store.close();
    expect(e).toBeInstanceOf(NotCommittedError);
    expect((e as Error).message).toContain(`not replayed to their end (kept for the next pipeline on this database): ${spill}`);
    expect(existsSync(spill)).toBe(true);
  });
});
