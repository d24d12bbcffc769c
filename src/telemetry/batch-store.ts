/**
 * What the recording pipeline hands to storage: batches of accepted records and rejected input.
 * The SQLite store (`src/store`) implements {@link BatchStore}; the pipeline does not import it,
 * so the edge depends on telemetry, never the reverse.
 */
import type { RecordSource, TelemetryRecord } from '../records/records.js';

/** A record that passed validation. */
export interface AcceptedItem {
  readonly record: TelemetryRecord;
  readonly source: RecordSource | undefined;
}

/** Input that did not: kept with its reason and source in the rejects table. */
export interface RejectedItem {
  readonly record?: undefined;
  readonly reason: string;
  /** The offending input (a line, or the JSON of a pushed object), possibly truncated. */
  readonly text: string;
  readonly source: RecordSource | undefined;
  /** When it was rejected (pipeline clock), ms since the epoch. */
  readonly atMs: number;
}

export type PipelineItem = AcceptedItem | RejectedItem;

/** What one committed batch did. `inserted + duplicates + rejected` = items in the batch. */
export interface BatchWriteResult {
  /** Records that were new. */
  readonly inserted: number;
  /** Records already stored (same stable id): re-ingest is idempotent. */
  readonly duplicates: number;
  /** Rejected items stored. */
  readonly rejected: number;
}

/**
 * Durable storage for batches. `writeBatch` is all-or-nothing: it commits every item in one
 * transaction or throws with nothing written. A thrown error with a `code` of `SQLITE_BUSY*`,
 * `SQLITE_LOCKED*`, `SQLITE_FULL`, `SQLITE_IOERR*`, ... is a transient fault the pipeline retries.
 */
export interface BatchStore {
  writeBatch(items: readonly PipelineItem[]): BatchWriteResult;
  /** The database file, if it is one: the pipeline keeps its spill file next to it. */
  readonly path?: string;
}
