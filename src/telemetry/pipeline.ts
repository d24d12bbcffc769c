/**
 * The recording pipeline: records in → validate → batch (by count and time) → write →
 * acknowledge. Every `DeadlineSetState` arc, every simulated migration and every import goes
 * through it into the store.
 *
 * ```ts
 * const store = openStore('data/vfio-sla.db');
 * const pipeline = new RecordingPipeline(store);
 * pipeline.errors$.subscribe((e) => console.error(e.code, e.message));
 * pipeline.push({ kind: 'arc', ... });
 * await pipeline.flush(); // everything pushed so far is committed
 * await pipeline.close();
 * store.close();
 * ```
 *
 * Validation and batching happen synchronously in `push`; a full batch is written in the same
 * call (one transaction). While the store faults (`SQLITE_BUSY`, `SQLITE_FULL`, I/O errors)
 * batches queue in memory up to `maxQueuedItems`, then in a spill file next to the database,
 * and are retried with back-off: nothing accepted is dropped, and every fault is on `errors$`.
 */
import { Subject, asyncScheduler, type Observable, type SchedulerLike } from 'rxjs';
import { batchByCountOrTime } from './batch-operator.js';
import type { BatchStore, BatchWriteResult, PipelineItem, RejectedItem } from './batch-store.js';
import { NotCommittedError, PipelineError, RecordRejectedError } from './errors.js';
import type { RecordSink, RecordSource, TelemetryRecord } from '../records/records.js';
import { orphanSpillFiles, spillPathFor } from './spill.js';
import { parseRecordLine, validateRecord } from './validate.js';
import { BatchWriter, type Batch } from './writer.js';

/** Longest input text kept with a reject. */
const REJECT_TEXT_MAX_CHARS = 4096;

/** Options of {@link RecordingPipeline}; every one has a default. */
export interface PipelineOptions {
  /** Records per transaction. Default 8192. */
  readonly batchSize?: number;
  /** Longest a record waits for its batch to fill, ms. Default 50. */
  readonly maxDelayMs?: number;
  /** Records held in memory while the store is faulted before spilling to disk. Default 100,000. */
  readonly maxQueuedItems?: number;
  /**
   * Spill file. Default: `<db>.spill-<pid>.jsonl` next to the database; `null` keeps
   * everything in memory. Spill files of dead processes for the database are written first.
   */
  readonly spillPath?: string | null;
  /** The database file, for the spill file and orphaned ones. Default: the store's `path`. */
  readonly dbPath?: string;
  /** First retry delay after a fault, ms; doubles up to `retryMaxMs`. Defaults 10 and 1000. */
  readonly retryInitialMs?: number;
  readonly retryMaxMs?: number;
  /** Time source for batching timers and retries. Default `asyncScheduler`. */
  readonly scheduler?: SchedulerLike;
  /** Wall clock for reject timestamps, ms since the epoch. Default `Date.now`. */
  readonly now?: () => number;
}

/** One committed batch: everything up to `lastSeq` is now on disk. */
export interface Ack extends BatchWriteResult {
  readonly lastSeq: number;
  readonly items: number;
}

/** Running totals of a pipeline. */
export interface PipelineStats {
  /** Items handed in (records and rejected input). */
  readonly received: number;
  readonly accepted: number;
  readonly rejected: number;
  /** Of the committed: new rows, and records that were already stored. */
  readonly inserted: number;
  readonly duplicates: number;
  /** Items committed (accepted and rejected). */
  readonly committed: number;
  /** Items waiting for the store (memory and spill file). */
  readonly pending: number;
  readonly faulted: boolean;
}

interface Waiter {
  readonly seq: number;
  resolve(): void;
  reject(error: Error): void;
}

/** The RxJS recording pipeline; implements {@link RecordSink}. See the module comment. */
export class RecordingPipeline implements RecordSink {
  /** Rejected input (`E_BAD_RECORD`), store faults (`E_STORE_BUSY`, `E_STORE_FAULT`), spill errors. */
  readonly errors$: Observable<PipelineError>;
  /** One value per committed batch. */
  readonly acks$: Observable<Ack>;
  /** The spill file this pipeline uses, if any. */
  readonly spillPath: string | undefined;

  private readonly input = new Subject<PipelineItem>();
  private readonly flushes = new Subject<void>();
  private readonly errors = new Subject<PipelineError>();
  private readonly acks = new Subject<Ack>();
  private readonly writer: BatchWriter;
  private readonly now: () => number;
  private readonly maxQueuedItems: number;
  private readonly batchSize: number;
  private seq = 0;
  private accepted = 0;
  private rejected = 0;
  private inserted = 0;
  private duplicates = 0;
  private committed = 0;
  private waiters: Waiter[] = [];
  private writableWaiters: Array<() => void> = [];
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(store: BatchStore, options: PipelineOptions = {}) {
    const scheduler = options.scheduler ?? asyncScheduler;
    this.now = options.now ?? Date.now;
    this.maxQueuedItems = options.maxQueuedItems ?? 100_000;
    this.batchSize = options.batchSize ?? 8192;
    const dbPath = options.dbPath ?? (store.path === ':memory:' ? undefined : store.path);
    this.spillPath = options.spillPath === null ? undefined : (options.spillPath ?? (dbPath === undefined ? undefined : spillPathFor(dbPath)));
    this.errors$ = this.errors.asObservable();
    this.acks$ = this.acks.asObservable();
    this.writer = new BatchWriter(store, {
      maxQueuedItems: this.maxQueuedItems,
      spillPath: this.spillPath,
      orphanSpills: dbPath === undefined || this.spillPath === undefined ? [] : orphanSpillFiles(dbPath),
      retryInitialMs: options.retryInitialMs ?? 10,
      retryMaxMs: options.retryMaxMs ?? 1000,
      scheduler,
      now: this.now,
      onCommit: (batch, result) => this.onCommit(batch, result),
      onOrphansDone: () => this.settleWaiters(),
      onError: (e) => {
        if (e instanceof RecordRejectedError) {
          // Accepted by validation, refused by the store for good: it is a reject now.
          this.accepted--;
          this.rejected++;
        }
        this.errors.next(e);
      },
    });
    this.input
      .pipe(batchByCountOrTime<PipelineItem>(this.batchSize, options.maxDelayMs ?? 50, this.flushes, scheduler))
      .subscribe((items) => this.writer.submit({ items, lastSeq: this.seq }));
  }

  /** Validates and queues one record; an invalid one is stored as a reject and reported. */
  push(record: TelemetryRecord, source?: RecordSource): void {
    this.assertOpen();
    const checked = validateRecord(record);
    if (typeof checked === 'string') {
      this.rejectItem(checked, safeJson(record), source);
      return;
    }
    this.accepted++;
    this.seq++;
    this.input.next({ record: checked, source });
  }

  /** Parses, validates and queues one JSON line (bad JSON is a reject with its source). */
  pushLine(line: string, source?: RecordSource): void {
    this.assertOpen();
    const checked = parseRecordLine(line);
    if (typeof checked === 'string') {
      this.rejectItem(checked, line, source);
      return;
    }
    this.accepted++;
    this.seq++;
    this.input.next({ record: checked, source });
  }

  /** Records input an importer could not use (e.g. a QMP parse error) as a reject. */
  reject(reason: string, text: string, source?: RecordSource): void {
    this.assertOpen();
    this.rejectItem(reason, text, source);
  }

  /**
   * Resolves when every item handed in before this call is committed to the database, and the
   * spill files of dead processes found at start are written to their end (a flush that left
   * them half-replayed would report success with records still on disk only). Rejects with
   * {@link NotCommittedError} only if `close({ timeoutMs })` gives up first.
   */
  flush(): Promise<void> {
    const seq = this.seq;
    this.flushes.next();
    if (this.writer.committedSeq >= seq && !this.writer.replayingOrphans) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ seq, resolve, reject }));
  }

  /**
   * Resolves when the backlog has room for another batch in memory: an async producer (a file
   * reader) awaits this to pause while the store is faulted, instead of filling the spill file.
   */
  whenWritable(): Promise<void> {
    if (this.writable) return Promise.resolve();
    return new Promise((resolve) => this.writableWaiters.push(resolve));
  }

  /** False while a backlog (store faulted) would push the next batch past `maxQueuedItems`. */
  get writable(): boolean {
    const pending = this.writer.pendingItems;
    return pending === 0 || pending + this.batchSize <= this.maxQueuedItems;
  }

  get stats(): PipelineStats {
    return {
      received: this.seq,
      accepted: this.accepted,
      rejected: this.rejected,
      inserted: this.inserted,
      duplicates: this.duplicates,
      committed: this.committed,
      pending: this.seq - this.committed,
      faulted: this.writer.faulted,
    };
  }

  /**
   * Flushes, then stops. With `timeoutMs`, gives up waiting for a fault to clear after that long:
   * what is still queued goes to the spill file (written by the next pipeline on this database)
   * and the promise rejects with {@link NotCommittedError}. The store is not closed: its owner does.
   */
  close(options: { readonly timeoutMs?: number } = {}): Promise<void> {
    this.closing ??= this.shutDown(options.timeoutMs);
    return this.closing;
  }

  private async shutDown(timeoutMs: number | undefined): Promise<void> {
    const flushed = this.flush().then(
      () => true,
      () => false,
    );
    let timer: NodeJS.Timeout | undefined;
    const done =
      timeoutMs === undefined
        ? await flushed
        : await Promise.race([flushed, new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)))]);
    clearTimeout(timer);
    this.closed = true;
    this.input.complete();
    if (done) {
      this.writer.dispose();
      this.finish();
      return;
    }
    const pending = this.writer.pendingItems;
    const kept = this.writer.abandon();
    const error = new NotCommittedError(pending, kept.spillPath, kept.lostItems, kept.spillFailure, this.writer.orphanFilesLeft);
    for (const w of this.waiters) w.reject(error);
    this.waiters = [];
    this.errors.next(error);
    this.finish();
    throw error;
  }

  private finish(): void {
    // Wake paused producers: their next push() throws E_CLOSED instead of waiting forever.
    for (const resolve of this.writableWaiters) resolve();
    this.writableWaiters = [];
    this.errors.complete();
    this.acks.complete();
    this.flushes.complete();
  }

  private rejectItem(reason: string, text: string, source: RecordSource | undefined): void {
    this.rejected++;
    this.seq++;
    const item: RejectedItem = { reason, text: text.slice(0, REJECT_TEXT_MAX_CHARS), source, atMs: this.now() };
    this.errors.next(new RecordRejectedError(reason, source));
    this.input.next(item);
  }

  private onCommit(batch: Batch, result: BatchWriteResult): void {
    this.inserted += result.inserted;
    this.duplicates += result.duplicates;
    this.committed += batch.lastSeq === 0 ? 0 : batch.items.length;
    if (batch.lastSeq > 0) this.acks.next({ lastSeq: batch.lastSeq, items: batch.items.length, ...result });
    this.settleWaiters();
    if (this.writableWaiters.length > 0 && this.writable) {
      const ready = this.writableWaiters;
      this.writableWaiters = [];
      for (const resolve of ready) resolve();
    }
  }

  /** Resolves the flushes whose items are committed (and, while orphans replay, none). */
  private settleWaiters(): void {
    const committedSeq = this.writer.committedSeq;
    if (this.writer.replayingOrphans || this.waiters[0] === undefined || this.waiters[0].seq > committedSeq) return;
    const ready = this.waiters.filter((w) => w.seq <= committedSeq);
    this.waiters = this.waiters.filter((w) => w.seq > committedSeq);
    for (const w of ready) w.resolve();
  }

  private assertOpen(): void {
    if (this.closed) throw new PipelineError('E_CLOSED', 'the recording pipeline is closed');
  }
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
