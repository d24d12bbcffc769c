/**
 * The write stage of the recording pipeline: commits batches to a {@link BatchStore} in FIFO
 * order, and when the store faults keeps them — in memory up to a bound, then in a spill file —
 * retrying with back-off until they commit. Nothing is dropped: a batch leaves the queue only
 * when `writeBatch` returned.
 *
 * Healthy path: a batch is written synchronously inside the call that produced it, so a
 * producer faster than the disk is slowed to the disk's pace and memory holds one batch.
 */
import type { SchedulerLike, Subscription } from 'rxjs';
import type { BatchStore, BatchWriteResult, PipelineItem, RejectedItem } from './batch-store.js';
import { RecordRejectedError, SpillError, StoreFaultError, isCorruptionCode } from './errors.js';
import { SpillFile } from './spill.js';

/** A batch with the sequence number of its last item (0 for batches from another process). */
export interface Batch {
  readonly items: readonly PipelineItem[];
  readonly lastSeq: number;
}

/** Tuning and hooks of a {@link BatchWriter}. */
export interface BatchWriterOptions {
  /** Items kept in memory while faulted before batches go to the spill file. */
  readonly maxQueuedItems: number;
  /** Spill file path; without one, batches stay in memory (unbounded) while faulted. */
  readonly spillPath: string | undefined;
  /** Spill files of dead processes to write first. */
  readonly orphanSpills: readonly string[];
  readonly retryInitialMs: number;
  readonly retryMaxMs: number;
  readonly scheduler: SchedulerLike;
  readonly now: () => number;
  readonly onCommit: (batch: Batch, result: BatchWriteResult) => void;
  /** Called once the last orphan spill file is written to the end and removed. */
  readonly onOrphansDone?: () => void;
  /** Faults, spill errors, and records the store refused for good (turned into rejects). */
  readonly onError: (error: StoreFaultError | SpillError | RecordRejectedError) => void;
}

/** Items written per drain slice before yielding to the event loop (~0.1 s of inserts). */
const DRAIN_SLICE_ITEMS = 32_768;

/** SQLite result codes that mean "try again later", not "this batch is wrong". */
const TRANSIENT = /^SQLITE_(BUSY|LOCKED|FULL|IOERR|NOMEM|CANTOPEN|PROTOCOL|READONLY)/;

function sqliteCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** One source of queued batches, in drain order: orphan files, memory, own spill file, overflow. */
interface Head {
  readonly batch: Batch;
  readonly from: 'memory' | 'spill' | 'orphan' | 'overflow';
}

/** FIFO batch writer with memory queue, spill file and retry. See the module comment. */
export class BatchWriter {
  /** Sequence number of the last item known committed (FIFO, so every earlier one is too). */
  committedSeq = 0;
  private readonly queue: Batch[] = [];
  /** Batches that arrived while the spill file had lines but could not be appended to. */
  private readonly overflow: Batch[] = [];
  private queuedItems = 0;
  private spilledItems = 0;
  private spill: SpillFile | undefined;
  private readonly orphans: SpillFile[];
  /** A batch read from a file and not yet committed. */
  private head: Head | undefined;
  private attempt = 0;
  private timer: Subscription | null = null;
  private disposed = false;

  constructor(
    private readonly store: BatchStore,
    private readonly options: BatchWriterOptions,
  ) {
    this.orphans = options.orphanSpills.map((p) => new SpillFile(p, true));
    if (this.orphans.length > 0) this.schedule(0);
  }

  /** Items not yet committed: in memory and in the spill file (orphans not counted). */
  get pendingItems(): number {
    const readAhead = this.head?.from === 'spill' ? this.head.batch.items.length : 0;
    return this.queuedItems + this.spilledItems + readAhead;
  }

  /** True until every orphan spill file has been written to its end. */
  get replayingOrphans(): boolean {
    return this.orphans.length > 0;
  }

  /** Orphan spill files not yet written to their end (they stay on disk for the next process). */
  get orphanFilesLeft(): string[] {
    return this.orphans.map((o) => o.path);
  }

  /** True while a fault keeps batches queued. */
  get faulted(): boolean {
    return this.attempt > 0;
  }

  /** True when a batch can be written right now rather than queued behind others. */
  private get idle(): boolean {
    return (
      this.head === undefined &&
      this.queue.length === 0 &&
      this.overflow.length === 0 &&
      this.orphans.length === 0 &&
      (this.spill?.isEmpty ?? true)
    );
  }

  /** Takes a batch: writes it now when nothing is queued, else queues it behind the others. */
  submit(batch: Batch): void {
    if (this.idle) {
      const failure = this.write(batch);
      if (failure === undefined) return;
      this.enqueue(batch);
      this.failed(failure.error); // after enqueue, so the counts it reports include this batch
    } else {
      this.enqueue(batch);
    }
    this.schedule(this.retryDelayMs());
  }

  /**
   * Writes queued batches in order until the queue is empty, a write fails, or `maxItems`
   * items went through (then yields to the event loop and continues). Returns true when empty.
   */
  drain(maxItems: number = DRAIN_SLICE_ITEMS): boolean {
    let written = 0;
    for (;;) {
      const head = this.peek();
      if (head === undefined) {
        this.spill?.remove();
        this.spill = undefined;
        return true;
      }
      if (written >= maxItems) {
        this.schedule(0);
        return false;
      }
      const failure = this.write(head.batch);
      if (failure !== undefined) {
        this.failed(failure.error);
        return false;
      }
      this.consume(head);
      written += head.batch.items.length;
    }
  }

  /**
   * Moves everything still in memory to the spill file and stops retrying: used by `close()`
   * when a fault outlives its patience. Returns the spill path and how many pending records
   * could not be kept there (none configured, or it could not be written: reported on `onError`).
   */
  abandon(): { readonly spillPath: string | undefined; readonly lostItems: number; readonly spillFailure?: string } {
    this.stopTimer();
    this.disposed = true;
    const pending = this.pendingItems;
    // The head of a file is already read past: re-append it (re-writing a record is a no-op).
    const batches = this.head === undefined || this.head.from === 'memory' || this.head.from === 'overflow' ? [] : [this.head.batch];
    batches.push(...this.queue, ...this.overflow);
    this.queue.length = 0;
    this.overflow.length = 0;
    this.queuedItems = 0;
    for (const o of this.orphans) o.close();
    const path = this.options.spillPath;
    if (pending === 0) return { spillPath: path, lostItems: 0 };
    if (path === undefined) return { spillPath: undefined, lostItems: pending };
    // Lines already in the file (spilled earlier) are kept; count what this call could not add.
    let lost = batches.reduce((n, b) => n + b.items.length, 0);
    try {
      this.spill ??= new SpillFile(path);
      for (const b of batches) {
        this.spill.append(JSON.stringify(b));
        lost -= b.items.length;
      }
      this.spill.close();
      return { spillPath: path, lostItems: 0 };
    } catch (e) {
      this.spill?.close();
      this.options.onError(new SpillError(path, e));
      return { spillPath: path, lostItems: lost, spillFailure: (e as Error).message ?? String(e) };
    }
  }

  /** Stops the retry timer (the pipeline is closed). */
  dispose(): void {
    this.stopTimer();
    this.disposed = true;
    for (const o of this.orphans) o.close();
  }

  /** Commits one batch; on failure returns the error (nothing of the batch was written). */
  private write(batch: Batch): { readonly error: unknown } | undefined {
    let result: BatchWriteResult;
    try {
      result = this.store.writeBatch(batch.items);
    } catch (e) {
      const code = sqliteCode(e);
      // A corrupt file is a store fault, never the records' fault: isolating them would turn
      // every record into a reject and write those into the damaged file.
      if (code !== undefined && (TRANSIENT.test(code) || isCorruptionCode(code))) return { error: e };
      try {
        result = this.isolate(batch.items);
      } catch (e2) {
        return { error: e2 };
      }
    }
    this.attempt = 0;
    if (batch.lastSeq > this.committedSeq) this.committedSeq = batch.lastSeq;
    this.options.onCommit(batch, result);
    return undefined;
  }

  /**
   * A batch failed for a reason that is not transient (a constraint, a bug): write its items
   * one by one so only the culprits are turned into rejects, with the store's message.
   */
  private isolate(items: readonly PipelineItem[]): BatchWriteResult {
    let inserted = 0;
    let duplicates = 0;
    let rejected = 0;
    for (const item of items) {
      let r: BatchWriteResult;
      try {
        r = this.store.writeBatch([item]);
      } catch (e) {
        const code = sqliteCode(e);
        if (code !== undefined && (TRANSIENT.test(code) || isCorruptionCode(code))) throw e;
        const reason = `store refused the record: ${(e as Error).message ?? String(e)}`;
        const reject: RejectedItem = { reason, text: JSON.stringify(item.record ?? item), source: item.source, atMs: this.options.now() };
        r = this.store.writeBatch([reject]);
        if (item.record !== undefined) this.options.onError(new RecordRejectedError(reason, item.source));
      }
      inserted += r.inserted;
      duplicates += r.duplicates;
      rejected += r.rejected;
    }
    return { inserted, duplicates, rejected };
  }

  private failed(e: unknown): void {
    this.attempt++;
    const code = sqliteCode(e) ?? 'SQLITE_ERROR';
    const readAhead = this.head?.from === 'spill' ? this.head.batch.items.length : 0;
    this.options.onError(new StoreFaultError(code, this.attempt, this.queuedItems, this.spilledItems + readAhead, e));
  }

  private enqueue(batch: Batch): void {
    const n = batch.items.length;
    if (this.overflow.length > 0) {
      this.overflow.push(batch);
      this.queuedItems += n;
      return;
    }
    const fileHasLines = !(this.spill?.isEmpty ?? true);
    const path = this.options.spillPath;
    if (path !== undefined && (fileHasLines || this.queuedItems + n > this.options.maxQueuedItems)) {
      try {
        this.spill ??= new SpillFile(path);
        this.spill.append(JSON.stringify(batch));
        this.spilledItems += n;
        return;
      } catch (e) {
        // A spill that cannot be written keeps the batch in memory: late, but not lost.
        this.options.onError(new SpillError(path, e));
        if (fileHasLines) {
          // Older batches are in the file: wait behind them, or the watermark would lie.
          this.overflow.push(batch);
          this.queuedItems += n;
          return;
        }
      }
    }
    this.queue.push(batch);
    this.queuedItems += n;
  }

  private peek(): Head | undefined {
    if (this.head !== undefined) return this.head;
    while (this.orphans.length > 0) {
      const orphan = this.orphans[0] as SpillFile;
      const batch = this.readBatch(orphan);
      if (batch !== undefined) return (this.head = { batch: { items: batch.items, lastSeq: 0 }, from: 'orphan' });
      orphan.remove();
      this.orphans.shift();
      if (this.orphans.length === 0) this.options.onOrphansDone?.();
    }
    const first = this.queue[0];
    if (first !== undefined) return (this.head = { batch: first, from: 'memory' });
    const spilled = this.spill === undefined ? undefined : this.readBatch(this.spill);
    if (spilled !== undefined) return (this.head = { batch: spilled, from: 'spill' });
    const late = this.overflow[0];
    return late === undefined ? undefined : (this.head = { batch: late, from: 'overflow' });
  }

  /** The next batch of a spill file; a line that is not one is reported and skipped. */
  private readBatch(file: SpillFile): Batch | undefined {
    for (let line = file.readLine(); line !== undefined; line = file.readLine()) {
      try {
        const b = JSON.parse(line) as Batch;
        if (Array.isArray(b.items)) return b;
        throw new Error('not a batch');
      } catch (e) {
        this.options.onError(new SpillError(file.path, e));
      }
    }
    return undefined;
  }

  private consume(head: Head): void {
    this.head = undefined;
    const n = head.batch.items.length;
    if (head.from === 'memory') {
      this.queue.shift();
      this.queuedItems -= n;
    } else if (head.from === 'overflow') {
      this.overflow.shift();
      this.queuedItems -= n;
    } else if (head.from === 'spill') {
      this.spilledItems -= n;
    }
  }

  private retryDelayMs(): number {
    if (this.attempt === 0) return 0;
    return Math.min(this.options.retryMaxMs, this.options.retryInitialMs * 2 ** (this.attempt - 1));
  }

  private schedule(delayMs: number): void {
    if (this.timer !== null || this.disposed) return;
    this.timer = this.options.scheduler.schedule(() => {
      this.timer = null;
      if (!this.drain()) this.schedule(this.retryDelayMs());
    }, delayMs);
  }

  private stopTimer(): void {
    this.timer?.unsubscribe();
    this.timer = null;
  }
}
