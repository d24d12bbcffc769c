import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { filter, firstValueFrom, VirtualTimeScheduler } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { recordCount, tableCounts } from '../../src/store/inventory.js';
import { Store } from '../../src/store/store.js';
import type { PipelineError } from '../../src/telemetry/errors.js';
import { RecordingPipeline } from '../../src/telemetry/pipeline.js';
import { spillPathFor } from '../../src/telemetry/spill.js';
import { arcs, lockFromAnotherProcess, tempDb } from '../store/fixtures.js';

let tmp: ReturnType<typeof tempDb>;
let store: Store;
beforeEach(() => {
  tmp = tempDb();
  store = Store.open(tmp.db, { busyTimeoutMs: 20 });
});
afterEach(() => {
  store.close();
  tmp.cleanup();
});

const firstError = (p: RecordingPipeline, code: string): Promise<PipelineError> =>
  firstValueFrom(p.errors$.pipe(filter((e) => e.code === code)));

/** Caps the writer connection's file at its current size plus `extraPages`: SQLITE_FULL. */
function capDisk(s: Store, extraPages: number): void {
  const pages = s.db.pragma('page_count', { simple: true }) as number;
  s.db.pragma(`max_page_count = ${pages + extraPages}`);
}
const liftDiskCap = (s: Store): void => void s.db.pragma('max_page_count = 1073741823');

/** The pid of a process that has exited: its spill files are orphans. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

describe('RecordingPipeline under store faults', () => {
  it('waits while another process holds the write lock, then completes the ingest', async () => {
    const holder = await lockFromAnotherProcess(tmp.db);
    const pipeline = new RecordingPipeline(store, { batchSize: 500, retryInitialMs: 5, retryMaxMs: 20 });
    const busy = firstError(pipeline, 'E_STORE_BUSY');
    for (const r of arcs(2000)) pipeline.push(r);
    const flushed = pipeline.flush();
    const e = await busy;
    expect(e.message).toMatch(/^SQLITE_BUSY/);
    expect(pipeline.stats.committed).toBe(0);
    holder.release();
    await flushed;
    expect(recordCount(store)).toBe(2000);
    await pipeline.close();
  });

  it('surfaces SQLITE_FULL, spills past the memory bound, and loses nothing once space returns', async () => {
    const pipeline = new RecordingPipeline(store, { batchSize: 250, maxQueuedItems: 1000, retryInitialMs: 5, retryMaxMs: 20 });
    capDisk(store, 2);
    const full = firstError(pipeline, 'E_STORE_FAULT');
    const input = arcs(5000);
    for (const r of input) pipeline.push(r);
    const flushed = pipeline.flush();
    expect((await full).message).toMatch(/^SQLITE_FULL/);
    expect(existsSync(spillPathFor(tmp.db))).toBe(true);
    expect(pipeline.writable).toBe(false);
    expect(pipeline.stats.committed).toBeLessThan(input.length);
    liftDiskCap(store);
    await flushed;
    expect(recordCount(store)).toBe(input.length);
    expect(pipeline.stats).toMatchObject({ inserted: input.length, duplicates: 0, pending: 0, faulted: false });
    expect(existsSync(spillPathFor(tmp.db))).toBe(false);
    await pipeline.close();
  });

  it('lets an async producer wait in whenWritable() instead of growing memory or spilling while the disk is full', async () => {
    // Virtual time: the retries run when the test says so, not when a loaded machine gets to them.
    const clock = new VirtualTimeScheduler();
    const advance = async (ms: number): Promise<void> => {
      clock.maxFrames = clock.now() + ms;
      clock.flush();
      for (let turn = 0; turn < 10; turn++) await new Promise((r) => setImmediate(r)); // let the producer run
    };
    const pipeline = new RecordingPipeline(store, { batchSize: 100, maxQueuedItems: 300, retryInitialMs: 5, retryMaxMs: 20, scheduler: clock });
    capDisk(store, 1);
    const full = firstError(pipeline, 'E_STORE_FAULT');
    const input = arcs(3000);
    let i = 0;
    let maxPending = 0;
    const producer = (async () => {
      for (const r of input) {
        if (!pipeline.writable) await pipeline.whenWritable();
        pipeline.push(r);
        i++;
        maxPending = Math.max(maxPending, pipeline.stats.pending);
      }
    })();
    await full;
    await advance(1000); // fifty-odd retries against the full disk
    expect(i).toBeLessThan(input.length);
    expect(existsSync(spillPathFor(tmp.db))).toBe(false);
    liftDiskCap(store);
    let done = false;
    void producer.then(() => (done = true));
    while (!done) await advance(50);
    await producer;
    const closed = pipeline.close();
    while (pipeline.stats.pending > 0) await advance(50);
    await closed;
    expect(maxPending).toBeLessThanOrEqual(300 + 100);
    expect(recordCount(store)).toBe(input.length);
  });

  it('keeps records in the spill file when close() gives up, and a later pipeline writes them', async () => {
    const spillPath = spillPathFor(tmp.db, deadPid());
    const first = new RecordingPipeline(store, { batchSize: 100, maxQueuedItems: 200, spillPath, retryInitialMs: 5, retryMaxMs: 10 });
    capDisk(store, 1);
    first.errors$.subscribe(() => undefined);
    for (const r of arcs(1000)) first.push(r);
    await expect(first.close({ timeoutMs: 50 })).rejects.toMatchObject({ code: 'E_NOT_COMMITTED', spillPath });
    const spilled = readFileSync(spillPath, 'utf8').trim().split('\n');
    expect(spilled.reduce((n, line) => n + (JSON.parse(line) as { items: unknown[] }).items.length, 0)).toBeGreaterThanOrEqual(1000 - recordCount(store));
    liftDiskCap(store);
    const second = new RecordingPipeline(store);
    await new Promise<void>((resolve) => {
      const poll = (): void => (existsSync(spillPath) ? void setTimeout(poll, 5) : resolve());
      poll();
    });
    await second.close();
    expect(recordCount(store)).toBe(1000);
    expect(tableCounts(store).arcs).toBe(1000);
  });

  it('replays an orphaned spill file whose last line was torn by a crash, skipping only that line', async () => {
    const spillPath = spillPathFor(tmp.db, deadPid());
    const batch = (from: number, n: number): string =>
      JSON.stringify({ lastSeq: from + n, items: arcs(from + n).slice(from).map((record) => ({ record })) });
    writeFileSync(spillPath, `${batch(0, 10)}\n${batch(10, 5)}\n${batch(15, 5).slice(0, 40)}`);
    const pipeline = new RecordingPipeline(store);
    await new Promise<void>((resolve) => {
      const poll = (): void => (existsSync(spillPath) ? void setTimeout(poll, 5) : resolve());
      poll();
    });
    await pipeline.close();
    expect(recordCount(store)).toBe(15);
  });
});
