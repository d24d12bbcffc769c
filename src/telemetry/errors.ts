/**
 * Errors of the recording pipeline. Every one has a stable `code` and the context a person needs
 * (file:line, SQLite code, how much is still queued). They arrive on `RecordingPipeline.errors$`;
 * none of them means a record was dropped.
 */
import type { RecordSource } from '../records/records.js';

/** Stable codes of {@link PipelineError}. */
export type PipelineErrorCode =
  | 'E_BAD_RECORD'
  | 'E_STORE_BUSY'
  | 'E_STORE_FAULT'
  | 'E_SPILL'
  | 'E_NOT_COMMITTED'
  | 'E_CLOSED';

/** `file:line`, `file` or `-` for a record pushed without a source. */
export function formatSource(source: RecordSource | undefined): string {
  if (source?.file === undefined) return source?.line === undefined ? '-' : `-:${source.line}`;
  return source.line === undefined ? source.file : `${source.file}:${source.line}`;
}

/** Base class: anything the pipeline reports. */
export class PipelineError extends Error {
  constructor(
    readonly code: PipelineErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'PipelineError';
  }
}

/** A record that failed validation; it is stored in the rejects table, the rest flows on. */
export class RecordRejectedError extends PipelineError {
  constructor(
    readonly reason: string,
    readonly source: RecordSource | undefined,
  ) {
    super('E_BAD_RECORD', `${formatSource(source)}: ${reason}`);
    this.name = 'RecordRejectedError';
  }
}

/**
 * The store refused a batch (`SQLITE_BUSY`, `SQLITE_FULL`, an I/O error...). The batch stays
 * queued (in memory, then in the spill file) and is retried with back-off until it commits.
 */
export class StoreFaultError extends PipelineError {
  constructor(
    /** The SQLite extended code, e.g. `SQLITE_FULL`, `SQLITE_IOERR_WRITE`. */
    readonly sqliteCode: string,
    /** Consecutive failed attempts so far (1 for the first). */
    readonly attempt: number,
    /** Items waiting in memory and in the spill file at the time of the failure. */
    readonly queuedItems: number,
    readonly spilledItems: number,
    cause: unknown,
  ) {
    const busy = sqliteCode.startsWith('SQLITE_BUSY') || sqliteCode.startsWith('SQLITE_LOCKED');
    super(
      busy ? 'E_STORE_BUSY' : 'E_STORE_FAULT',
      `${sqliteCode}: ${(cause as Error).message ?? String(cause)} ` +
        `(attempt ${attempt}; ${queuedItems} records queued in memory, ${spilledItems} spilled; retrying)`,
      { cause },
    );
    this.name = 'StoreFaultError';
  }
}

/** The spill file could not be written; the batch is kept in memory instead (nothing dropped). */
export class SpillError extends PipelineError {
  constructor(
    readonly spillPath: string,
    cause: unknown,
  ) {
    super('E_SPILL', `cannot write spill file ${spillPath}: ${(cause as Error).message ?? String(cause)}`, { cause });
    this.name = 'SpillError';
  }
}

/**
 * `close()` gave up waiting for a fault to clear. The records are kept in `spillPath` and are
 * written by the next pipeline opened on the same database.
 */
export class NotCommittedError extends PipelineError {
  constructor(
    readonly pendingItems: number,
    readonly spillPath: string | undefined,
  ) {
    super(
      'E_NOT_COMMITTED',
      spillPath === undefined
        ? `${pendingItems} records not committed (no spill file configured)`
        : `${pendingItems} records not committed; kept in ${spillPath}, written when the database is next opened for recording`,
    );
    this.name = 'NotCommittedError';
  }
}
