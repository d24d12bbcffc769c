import Database from 'better-sqlite3';
import { firstValueFrom } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listRejects, recordCount, tableCounts } from '../../src/store/inventory.js';
import { Store } from '../../src/store/store.js';
import type { PipelineError } from '../../src/telemetry/errors.js';
import { RecordingPipeline } from '../../src/telemetry/pipeline.js';
import type { TelemetryRecord } from '../../src/records/records.js';
import { arc, arcs, ram, tempDb } from '../store/fixtures.js';

let tmp: ReturnType<typeof tempDb>;
let store: Store;
beforeEach(() => {
  tmp = tempDb();
  store = Store.open(tmp.db);
});
afterEach(() => {
  store.close();
  tmp.cleanup();
});

/** Rows as another connection sees them: what is on disk, not in this connection's cache. */
function arcsOnDisk(): number {
  const other = new Database(tmp.db, { readonly: true });
  const n = (other.prepare('SELECT count(*) AS n FROM arcs').get() as { n: number }).n;
  other.close();
  return n;
}

describe('RecordingPipeline', () => {
  it('has every record pushed before flush() on disk when flush resolves', async () => {
    const pipeline = new RecordingPipeline(store, { batchSize: 1000, maxDelayMs: 60_000 });
    for (const r of arcs(2500)) pipeline.push(r);
    await pipeline.flush();
    expect(arcsOnDisk()).toBe(2500);
    expect(pipeline.stats).toMatchObject({ received: 2500, accepted: 2500, committed: 2500, inserted: 2500, pending: 0 });
    await pipeline.close();
  });

  it('writes a partial batch after maxDelayMs without a flush', async () => {
    const pipeline = new RecordingPipeline(store, { batchSize: 1000, maxDelayMs: 5 });
    const ack = firstValueFrom(pipeline.acks$);
    pipeline.push(arc());
    expect(await ack).toEqual({ lastSeq: 1, items: 1, inserted: 1, duplicates: 0, rejected: 0 });
    expect(arcsOnDisk()).toBe(1);
    await pipeline.close();
  });

  it('stores an invalid record as a reject, reports it on errors$ and lets the rest flow on', async () => {
    const pipeline = new RecordingPipeline(store);
    const errors: PipelineError[] = [];
    pipeline.errors$.subscribe((e) => errors.push(e));
    pipeline.push(arc({ startedAtMs: 1 }));
    pipeline.push(arc({ latencyMs: -1 }), { file: 'gov', line: 7 });
    pipeline.push(arc({ startedAtMs: 2 }));
    await pipeline.close();
    expect(errors.map((e) => [e.code, e.message])).toEqual([
      ['E_BAD_RECORD', 'gov:7: arc.latencyMs: expected a non-negative number of ms up to 366 days, got -1'],
    ]);
    expect(tableCounts(store)).toMatchObject({ arcs: 2, rejects: 1 });
    expect(listRejects(store)[0]).toMatchObject({ file: 'gov', line: 7, text: expect.stringContaining('"latencyMs":-1') });
  });

  it('counts a record pushed twice once, as a duplicate the second time', async () => {
    const pipeline = new RecordingPipeline(store);
    pipeline.push(ram());
    await pipeline.flush();
    pipeline.push(ram());
    await pipeline.close();
    expect(pipeline.stats).toMatchObject({ accepted: 2, inserted: 1, duplicates: 1 });
    expect(recordCount(store)).toBe(1);
  });

  it('refuses records after close()', async () => {
    const pipeline = new RecordingPipeline(store);
    await pipeline.close();
    expect(() => pipeline.push(arc())).toThrow(expect.objectContaining({ code: 'E_CLOSED' }));
  });

  it('turns a record the database refuses for good into a reject and commits the rest of its batch', async () => {
    store.db.exec(`CREATE TRIGGER veto BEFORE INSERT ON ram_progress WHEN NEW.pass = 13 BEGIN SELECT RAISE(ABORT, 'pass 13 vetoed'); END`);
    const pipeline = new RecordingPipeline(store);
    const records: TelemetryRecord[] = [ram({ atMs: 1 }), ram({ atMs: 2, pass: 13 }), ram({ atMs: 3 })];
    records.forEach((r, i) => pipeline.push(r, { file: 'x.jsonl', line: i + 1 }));
    await pipeline.close();
    expect(tableCounts(store)).toMatchObject({ ram_progress: 2, rejects: 1 });
    expect(listRejects(store)).toEqual([
      expect.objectContaining({ file: 'x.jsonl', line: 2, reason: 'store refused the record: pass 13 vetoed' }),
    ]);
  });
});
