/**
 * Importers: files → the recording pipeline. Our JSON-lines records are streamed line by line
 * (a 10 M-line file never sits in memory; the reader pauses while the store is faulted); QEMU
 * telemetry in either QMP form is parsed by `src/qemu/qmp-log.ts` and turned into records.
 * Every unusable line becomes a reject with its file:line; the rest goes on.
 */
import { closeSync, createReadStream, openSync, readSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { anchorMonotonic, migrationToRecords, parseQmpLog } from '../qemu/qmp-log.js';
import { realignToStored, RunIdentities, runCollisionReason, type RunDating } from '../qemu/run-identity.js';
import type { QmpMigration } from '../qemu/qmp-types.js';
import { detectFormat, type ImportFormat } from './file-format.js';
import { RecordRejectedError } from '../telemetry/errors.js';
import { LineFramer, TOO_LARGE } from '../telemetry/line-framer.js';
import type { RecordingPipeline } from '../telemetry/pipeline.js';
import type { TelemetryRecord } from '../records/records.js';

/**
 * Read size. 64 KiB keeps each decoded chunk string in V8's young generation (strings past
 * ~128 KiB go to large-object space and live until a full GC): the 10 M-record scale run's
 * peak RSS drops by ~80 MB compared with 1 MiB chunks, at no measurable throughput cost.
 */
const CHUNK_BYTES = 1 << 16;
const SNIFF_BYTES = 16 << 10;

/** An error worth showing a person: where and why. */
export interface ImportError {
  readonly file: string;
  readonly line?: number;
  readonly reason: string;
}

/** What one file contributed. */
export interface FileImport {
  readonly file: string;
  readonly format: ImportFormat;
  readonly accepted: number;
  readonly rejected: number;
  /** Migrations found (QMP formats only). */
  readonly migrations?: number;
  /**
   * A poll array with only monotonic times (`t_monotonic`): its times were anchored so that the
   * last poll falls at the file's modification time, this ISO-8601 time.
   */
  readonly timedByMtime?: string;
}

/** The result of {@link importFiles}; counts are of this import only. */
export interface ImportSummary {
  readonly files: readonly FileImport[];
  readonly accepted: number;
  readonly rejected: number;
  /** Of the accepted: new rows and records already stored (re-import). */
  readonly inserted: number;
  readonly duplicates: number;
  /** The first rejects, in input order (up to `maxErrors`). */
  readonly errors: readonly ImportError[];
  /** False when `signal` stopped the import before everything was read and committed. */
  readonly complete: boolean;
}

/** Options of {@link importFiles}. */
export interface ImportOptions {
  /** Bytes read so far of `totalBytes` (all files), for a progress bar. */
  readonly onProgress?: (doneBytes: number, totalBytes: number) => void;
  /** How many errors the summary lists. Default 10. */
  readonly maxErrors?: number;
  /** Stops reading (e.g. when a store fault outlasts the caller's patience). */
  readonly signal?: AbortSignal;
  /**
   * The file of a different run already stored under `migrationId`, if any (the CLI passes
   * `storedRunConflict` of `store/run-identity.ts`): such a QMP migration is rejected, not merged.
   */
  readonly storedRunConflict?: (migrationId: string, records: readonly TelemetryRecord[]) => string | undefined;
  /**
   * The times of the RAM polls stored under `migrationId`, ascending (`storedRamAtMs` of
   * `store/run-identity.ts`): a copy of a stored poll array with only monotonic times, which its
   * modification time dates otherwise, is dated as the stored run was, so it adds nothing.
   */
  readonly storedRamAtMs?: (migrationId: string) => readonly number[];
}

function sniff(file: string): string {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(SNIFF_BYTES);
    const n = readSync(fd, buf, 0, SNIFF_BYTES, 0);
    return buf.toString('utf8', 0, n);
  } finally {
    closeSync(fd);
  }
}

/** Resolves to true when `promise` settles first, to false when `signal` aborts first. */
function unlessAborted(promise: Promise<unknown>, signal: AbortSignal | undefined): Promise<boolean> {
  const settled = promise.then(
    () => true,
    () => false,
  );
  if (signal === undefined) return settled;
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const aborted = (): void => resolve(false);
    signal.addEventListener('abort', aborted, { once: true });
    void settled.then((ok) => {
      signal.removeEventListener('abort', aborted);
      resolve(ok);
    });
  });
}

/**
 * Longest line of a JSON-lines records file, bytes: a record is a few hundred bytes; a longer
 * line is one reject (with its line number), dropped as it is read, never held whole.
 * The service's request limit (`DEFAULT_MAX_LINE_BYTES`) is the same 1 MiB.
 */
export const MAX_RECORD_LINE_BYTES = 1024 * 1024;

/** A UTF-8 byte order mark, which some editors put before line 1. */
const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** Streams a JSON-lines records file into the pipeline; returns false when aborted. */
async function importRecordLines(
  file: string,
  pipeline: RecordingPipeline,
  onBytes: (n: number) => void,
  signal: AbortSignal | undefined,
): Promise<boolean> {
  const framer = new LineFramer(MAX_RECORD_LINE_BYTES);
  let lineNo = 0;
  const pushLine = (line: Buffer | typeof TOO_LARGE): void => {
    lineNo++;
    if (line === TOO_LARGE) {
      pipeline.reject(`line longer than ${MAX_RECORD_LINE_BYTES} bytes: not a record (skipped to its end)`, '', { file, line: lineNo });
      return;
    }
    const start = lineNo === 1 && line.subarray(0, 3).equals(UTF8_BOM) ? 3 : 0;
    const text = line.toString('utf8', start);
    if (text.trim().length > 0) pipeline.pushLine(text, { file, line: lineNo });
  };
  const stream = createReadStream(file, { highWaterMark: CHUNK_BYTES });
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      framer.push(chunk);
      for (let line = framer.next(); line !== undefined; line = framer.next()) pushLine(line);
      onBytes(chunk.length);
      if (!pipeline.writable && !(await unlessAborted(pipeline.whenWritable(), signal))) return false;
    }
  } finally {
    stream.destroy();
  }
  const last = framer.rest();
  if (last !== undefined) pushLine(last);
  return true;
}

/**
 * Parses a QMP file (either form) and pushes its records; returns the number of migrations and,
 * for monotonic times, the file modification time they were anchored at. A migration whose id a
 * different run already has (earlier in this import, or in the store) is one reject naming both
 * files: two runs never become one migration. A run is told by its content before dating, so a
 * copy of a poll array with another modification time is the same run, dated as it was first.
 */
async function importQmp(
  file: string,
  pipeline: RecordingPipeline,
  runs: RunIdentities,
  stored: Pick<ImportOptions, 'storedRunConflict' | 'storedRamAtMs'>,
): Promise<{ migrations: number; timedByMtime?: string }> {
  const text = await readFile(file, 'utf8');
  const { migrations, errors } = parseQmpLog(text, file);
  const lines = errors.length > 0 || migrations.length > 0 ? text.split('\n') : [];
  for (const e of errors) pipeline.reject(e.reason, lines[e.line - 1] ?? '', { file: e.file, line: e.line });
  const mtimeMs = statSync(file).mtimeMs;
  let monotonic = false;
  for (const m of migrations) {
    const dated = m.clock === 'monotonic';
    monotonic ||= dated;
    const content = migrationToRecords(m);
    const claim = runs.claim(m.migrationId, file, content, dated ? { anchorMs: mtimeMs } : undefined);
    // The same run again in this import (a copy): dated as it was the first time, so it adds nothing.
    const dating = claim === 'same' ? runs.datingOf(m.migrationId) : undefined;
    let records = dated ? dateRun(m, dating ?? { anchorMs: mtimeMs }) : content;
    let otherFile = typeof claim === 'object' ? claim.otherFile : claim === 'new' ? stored.storedRunConflict?.(m.migrationId, records) : undefined;
    if (otherFile !== undefined && dated && claim === 'new') {
      // Stored by an earlier import of a copy with another modification time? Then dated as that was.
      const storedRamAtMs = stored.storedRamAtMs?.(m.migrationId) ?? [];
      const realigned = realignToStored(records, storedRamAtMs);
      if (realigned !== undefined && stored.storedRunConflict?.(m.migrationId, realigned) === undefined) {
        records = realigned;
        otherFile = undefined;
        runs.redate(m.migrationId, { anchorMs: mtimeMs, storedRamAtMs });
      }
    }
    if (otherFile !== undefined) {
      const line = m.polls[0]?.line ?? 1;
      pipeline.reject(runCollisionReason(m.migrationId, file, otherFile), lines[line - 1] ?? '', { file, line });
      continue;
    }
    const source = { file };
    for (const r of records) pipeline.push(r, source);
  }
  return monotonic ? { migrations: migrations.length, timedByMtime: new Date(mtimeMs).toISOString() } : { migrations: migrations.length };
}

/** The records of `m` (only monotonic times) dated by `dating`. */
function dateRun(m: QmpMigration, dating: RunDating): TelemetryRecord[] {
  const records = migrationToRecords(anchorMonotonic(m, dating.anchorMs));
  return dating.storedRamAtMs === undefined ? records : (realignToStored(records, dating.storedRamAtMs) ?? records);
}

/**
 * Imports `files` through `pipeline` (format detected per file) and waits until everything is
 * committed. The pipeline stays open: the caller closes it (and its store).
 */
export async function importFiles(files: readonly string[], pipeline: RecordingPipeline, options: ImportOptions = {}): Promise<ImportSummary> {
  const maxErrors = options.maxErrors ?? 10;
  const errors: ImportError[] = [];
  const sub = pipeline.errors$.subscribe((e) => {
    if (!(e instanceof RecordRejectedError) || errors.length >= maxErrors) return;
    const file = e.source?.file ?? '-';
    const line = e.source?.line;
    errors.push(line === undefined ? { file, reason: e.reason } : { file, line, reason: e.reason });
  });
  const totalBytes = files.reduce((n, f) => n + statSync(f).size, 0);
  let doneBytes = 0;
  const onBytes = (n: number): void => {
    doneBytes += n;
    options.onProgress?.(doneBytes, totalBytes);
  };
  const before = pipeline.stats;
  const perFile: FileImport[] = [];
  const runs = new RunIdentities();
  let complete = true;
  try {
    for (const file of files) {
      if (options.signal?.aborted === true) {
        complete = false;
        break;
      }
      const format = detectFormat(sniff(file));
      const start = pipeline.stats;
      let qmp: Awaited<ReturnType<typeof importQmp>> | undefined;
      if (format === 'records') {
        complete = await importRecordLines(file, pipeline, onBytes, options.signal);
      } else {
        qmp = await importQmp(file, pipeline, runs, options);
        onBytes(statSync(file).size);
      }
      const end = pipeline.stats;
      const counts = { file, format, accepted: end.accepted - start.accepted, rejected: end.rejected - start.rejected };
      perFile.push(qmp === undefined ? counts : { ...counts, ...qmp });
      if (!complete) break;
    }
    // The end of the input is the end of the import only once it is on disk.
    if (complete) complete = await unlessAborted(pipeline.flush(), options.signal);
  } finally {
    sub.unsubscribe();
  }
  const after = pipeline.stats;
  return {
    files: perFile,
    accepted: after.accepted - before.accepted,
    rejected: after.rejected - before.rejected,
    inserted: after.inserted - before.inserted,
    duplicates: after.duplicates - before.duplicates,
    errors,
    complete,
  };
}
