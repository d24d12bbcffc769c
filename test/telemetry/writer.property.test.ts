import fc from 'fast-check';
import { VirtualTimeScheduler } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import type { BatchStore, BatchWriteResult, PipelineItem } from '../../src/telemetry/batch-store.js';
import { RecordingPipeline } from '../../src/telemetry/pipeline.js';
import type { ArcRecord } from '../../src/records/records.js';
import { arc, tempDb } from '../store/fixtures.js';

/** A store that fails transiently on the writes `failAt` names (by attempt number), else appends. */
class FlakyStore implements BatchStore {
  readonly committed: number[] = [];
  private attempt = 0;
  constructor(private readonly failAt: ReadonlySet<number>) {}
  writeBatch(items: readonly PipelineItem[]): BatchWriteResult {
    if (this.failAt.has(this.attempt++)) throw Object.assign(new Error('disk full'), { code: 'SQLITE_FULL' });
    for (const item of items) this.committed.push((item.record as ArcRecord).startedAtMs);
    return { inserted: items.length, duplicates: 0, rejected: 0 };
  }
}

describe('the pipeline under random transient faults', () => {
  const tmp = tempDb();
  afterAll(() => tmp.cleanup());
  let run = 0;

  it('commits every record exactly once, in the order pushed, and flush() waits for it', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 400 }),
        fc.integer({ min: 1, max: 32 }),
        fc.integer({ min: 1, max: 64 }),
        fc.uniqueArray(fc.integer({ min: 0, max: 120 }), { maxLength: 60 }),
        fc.uniqueArray(fc.integer({ min: 0, max: 400 }), { maxLength: 10 }),
        async (n, batchSize, maxQueuedItems, failures, flushPoints) => {
          const scheduler = new VirtualTimeScheduler();
          const store = new FlakyStore(new Set(failures));
          const pipeline = new RecordingPipeline(store, {
            batchSize,
            maxQueuedItems,
            spillPath: `${tmp.db}.${run++}.spill.jsonl`,
            scheduler,
            retryInitialMs: 1,
            retryMaxMs: 8,
          });
          const flushes: Array<{ upTo: number; done: Promise<number[]> }> = [];
          const flushAt = new Set(flushPoints);
          for (let i = 0; i < n; i++) {
            pipeline.push(arc({ startedAtMs: i }));
            if (flushAt.has(i)) flushes.push({ upTo: i, done: pipeline.flush().then(() => [...store.committed]) });
          }
          const last = pipeline.flush();
          scheduler.flush();
          await last;
          expect(store.committed).toEqual(Array.from({ length: n }, (_, i) => i));
          for (const f of flushes) expect((await f.done).length).toBeGreaterThan(f.upTo);
          expect(pipeline.stats).toMatchObject({ committed: n, pending: 0, faulted: false });
          const closed = pipeline.close();
          scheduler.flush();
          await closed;
        },
      ),
      { numRuns: 60 },
    );
  });
});
