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
  | 'E_STORE_CORRUPT'
  | 'E_SPILL'
  | 'E_NOT_COMMITTED'
  | 'E_CLOSED';

/** `file:line`, `file` or `-` for a record pushed without a source. */
export function formatSource(source: RecordSource | undefined): string {
  if (source?.file === undefined) return source?.line === undefined ? '-' : `-:${source.line}`;
  return source.line === undefined ? source.file : `${source.file}:${source.line}`;
}

/**
 * SQLite codes of a damaged database file (`SQLITE_CORRUPT`, its extended codes, and
 * `SQLITE_NOTADB`; sqlite.org/rescode.html): a store fault, never a reason to reject records.
 */
export function isCorruptionCode(code: string): boolean {
  return /^SQLITE_(CORRUPT|NOTADB)/.test(code);
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
    const corrupt = isCorruptionCode(sqliteCode);
    super(
      busy ? 'E_STORE_BUSY' : corrupt ? 'E_STORE_CORRUPT' : 'E_STORE_FAULT',
      corrupt
        ? `${sqliteCode}: ${(cause as Error).message ?? String(cause)}: the database file is corrupt; nothing more is written to it ` +
            `(${queuedItems + spilledItems} records held back, not rejected). Recover it with ` +
            `sqlite3 <db> ".recover" | sqlite3 <new.db>, or restore a backup, then record again`
        : `${sqliteCode}: ${(cause as Error).message ?? String(cause)} ` +
            `(attempt ${attempt}; ${queuedItems} records queued in memory, ${spilledItems} spilled; retrying)`,
      { cause },
    );
    this.name = 'StoreFaultError';
  }

  /** True when the database file is damaged (`SQLITE_CORRUPT*`, `SQLITE_NOTADB`): waiting will not help. */
  get corrupt(): boolean {
    return isCorruptionCode(this.sqliteCode);
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
  /**
   * @param pendingItems records not committed
   * @param spillPath where those that were kept are
   * @param lostItems of them, records that could not be kept anywhere (lost when the process exits)
   * @param spillFailure why the spill file could not take them, when it could not
   */
  constructor(
    readonly pendingItems: number,
    readonly spillPath: string | undefined,
    readonly lostItems: number = spillPath === undefined ? pendingItems : 0,
    readonly spillFailure?: string,
    /** Spill files of an earlier process not replayed to their end (kept for the next one). */
    readonly orphanFiles: readonly string[] = [],
  ) {
    const kept = pendingItems - lostItems;
    const orphans =
      orphanFiles.length === 0 ? '' : `; not yet replayed (kept for the next pipeline on this database): ${orphanFiles.join(', ')}`;
    super(
      'E_NOT_COMMITTED',
      pendingItems === 0 && orphanFiles.length > 0
        ? `spill files of an earlier process not replayed to their end (kept for the next pipeline on this database): ${orphanFiles.join(', ')}`
        : (lostItems === 0
        ? `${pendingItems} records not committed; kept in ${spillPath ?? '?'}, written when the database is next opened for recording`
        : `${pendingItems} records not committed; ${lostItems} of them NOT kept and lost at exit: ` +
            (spillPath === undefined
              ? 'no spill file is configured'
              : `the spill file ${spillPath} could not be written (${spillFailure ?? 'unknown error'})${kept > 0 ? `; ${kept} kept there` : ''}`)) + orphans,
    );
    this.name = 'NotCommittedError';
  }
}
