/**
 * The QMP importer, live: `vfio-sla watch` hands every line its QMP client receives to a
 * {@link WatchRecorder}, which keeps the lines of the one migration it follows as a form-1 wire
 * log (design.md "QMP logs") and converts each line once, with the importer's own functions:
 * `readQueryMigrate` types a poll, `readQmpEvent` an event, `ramRecordOf` makes a poll's `ram`
 * record and `migrationToRecords` the records of the end. So the records
 * `watch` stores are the records `vfio-sla import` makes from the log `watch --qmp-log` writes:
 * `ram` records as the polls arrive, the `transfer` pair, the `outcome` and the `attempt` at the
 * end — with `--drive`, the governor's, which the log then carries as its `governor` annotation.
 *
 * Kept out of the migration (and of the log, so that an import of the log agrees):
 * - replies from before the migration began: `{}`, and the final status of an earlier migration
 *   still reported when `watch` attached;
 * - a `completed` reply without statistics: QEMU 7.2 sets `completed` in `migration_completion()`
 *   and fills `total-time`/`downtime` later, in `migration_calculate_complete()`, so a query in
 *   between reads `completed` with `total-time: 0, downtime: 0` (the caller polls again);
 * - everything after the migration ended, but the `governor` annotation `finish` writes.
 */
import type { AttemptRecord, OutcomeRecord, RecordSink, RecordSource, StackRecord, TelemetryRecord } from '../../records/records.js';
import { MIGRATION_FINAL_STATUSES } from '../../qemu/qapi-migration.js';
import { QmpProtocolError } from '../../qemu/qmp-errors.js';
import { readQmpEvent, readQueryMigrate } from '../../qemu/qmp-log.js';
import type { QmpWireLine } from '../../qemu/qmp-protocol.js';
import { migrationToRecords, ramRecordOf } from '../../qemu/qmp-records.js';
import type { QmpEvent, QmpMigration, QmpPoll } from '../../qemu/qmp-types.js';
import { toQmpLogLine } from '../../qemu/qmp-wire-log.js';
import { lineQemuVersion } from '../../qemu/qemu-version.js';
import { addVfioAnnotation, emptyVfioLog, vfioAnnotationLine, type VfioLog, type VfioSide } from '../../qemu/vfio-records.js';
import { governorAnnotationLine, governorLog, type GovernorLog } from '../../qemu/governor-annotation.js';
import { isJsonObject, type JsonObject } from '../../json/guards.js';

/** Where the recorder is in the migration it follows. */
export type RecorderPhase = 'waiting' | 'recording' | 'ended';

/** What one received line was to the recorder. */
export type RecordedLine =
  | { readonly kind: 'poll'; readonly poll: QmpPoll }
  | { readonly kind: 'event'; readonly event: QmpEvent }
  /** A `query-migrate-parameters` reply (its `downtime-limit`, when it has one). */
  | { readonly kind: 'parameters'; readonly downtimeLimitMs: number | undefined }
  /** A `query-migrate` reply left out of the migration; see the module comment. */
  | { readonly kind: 'skipped-poll'; readonly why: 'no-migration' | 'earlier-migration' | 'no-statistics-yet' | 'after-end'; readonly status: string | undefined }
  /** A line of no interest (sent lines, the greeting, replies to other commands, events before the start). */
  | { readonly kind: 'other' };

export interface WatchRecorderOptions {
  readonly migrationId: string;
  readonly sink: RecordSink;
  /** Provenance of the records and `QmpMigration.file`: the log path, or the QMP endpoint. */
  readonly source: string;
  /** Receives every kept line (no terminator): the form-1 wire log. */
  readonly writeLine?: (line: string) => void;
}

/** See the module comment. */
export class WatchRecorder {
  private phaseValue: RecorderPhase = 'waiting';
  private readonly polls: QmpPoll[] = [];
  private readonly events: QmpEvent[] = [];
  private limitMs: number | undefined;
  private migrationLimitMs: number | undefined;
  private lines = 0;
  private ramRecords = 0;
  private readonly recordSource: RecordSource;
  private vfio: VfioLog | undefined;
  /** The governor's records, once `finish` was given them (its annotation in the log). */
  private governor: GovernorLog | undefined;
  private readonly stackPushed: Record<VfioSide, string | undefined> = { source: undefined, destination: undefined };

  constructor(private readonly options: WatchRecorderOptions) {
    this.recordSource = { file: options.source };
  }

  get phase(): RecorderPhase {
    return this.phaseValue;
  }

  /** The source QEMU's version, once its greeting or `query-version` said it. */
  get sourceQemuVersion(): string | undefined {
    return this.stackPushed.source;
  }

  /** `ram` records pushed so far. */
  get ramRecordCount(): number {
    return this.ramRecords;
  }

  /** The migration as recorded so far (the importer's view of the log). */
  migration(): QmpMigration {
    const plain = { migrationId: this.options.migrationId, file: this.options.source, polls: [...this.polls], events: [...this.events] };
    const m: QmpMigration = { ...plain, ...(this.vfio === undefined ? {} : { vfio: this.vfio }), ...(this.governor === undefined ? {} : { governor: this.governor }) };
    return this.migrationLimitMs === undefined ? m : { ...m, downtimeLimitMs: this.migrationLimitMs };
  }

  /**
   * Handles one line of the client's `wire$` (in order). Throws {@link QmpProtocolError} for a
   * `query-migrate` reply QEMU's schema does not allow (a non-numeric `ram.remaining`, ...).
   */
  onWire(w: QmpWireLine): RecordedLine {
    const line = toQmpLogLine(w);
    if (line === undefined) return { kind: 'other' };
    if (w.kind === 'greeting') {
      this.keep(line);
      // As the importer: a greeting dates what follows with its QEMU's version.
      const version = lineQemuVersion(JSON.parse(line) as JsonObject);
      if (version !== undefined) this.pushStack('source', version);
      return { kind: 'other' };
    }
    if (w.kind === 'event') return this.onEvent(line);
    if (w.kind !== 'return') return { kind: 'other' }; // an error reply: the caller sees the error
    // The version goes into the log as a `stack` annotation ({@link stack}), for both QEMUs alike.
    if (w.command === 'query-version') return { kind: 'other' };
    if (w.command === 'query-migrate-parameters') return this.onParameters(line);
    return this.onPoll(line);
  }

  /**
   * Pushes the records only the end of the migration gives — the `transfer` pair, the `outcome`
   * and the `attempt` of `migrationToRecords` — and returns them. A migration that did not
   * complete gives no transfer or outcome (its `ram` records are already pushed). `outcome` and
   * `attempt`, when given (`watch --drive` steered: the governor's), go into the log as its
   * `governor` annotation (`governor-annotation.ts`), so they replace the importer's (policy
   * `qemu`) here as in an import of the log.
   */
  finish(outcome?: OutcomeRecord, attempt?: AttemptRecord): TelemetryRecord[] {
    if (outcome !== undefined || attempt !== undefined) {
      this.governor = governorLog(outcome, attempt);
      this.keep(governorAnnotationLine(this.governor));
    }
    const out: TelemetryRecord[] = [];
    for (const r of migrationToRecords(this.migration())) {
      // Pushed as they came: the polls' ram records, the stack at attach.
      if (r.kind !== 'ram' && r.kind !== 'stack') out.push(r);
    }
    for (const r of out) this.options.sink.push(r, this.recordSource);
    this.phaseValue = 'ended';
    return out;
  }

  /**
   * Keeps a `vfio-sla` annotation line (`vfio-records.ts`: devices, trace lines, destination
   * events) in the log and in the migration, as the importer reads it from the log.
   */
  annotate(line: string): void {
    const lineNo = this.keep(line);
    this.vfio ??= emptyVfioLog();
    addVfioAnnotation(this.vfio, JSON.parse(line) as Record<string, unknown>, lineNo);
  }

  /**
   * Records one QEMU's version (`query-version` at attach): a `stack` annotation in the log, so
   * that `import` of the log makes the same record, and the `stack` record itself, now — a
   * migration that never completes still says which stack it ran on.
   */
  stack(side: VfioSide, qemuVersion: string): void {
    this.annotate(vfioAnnotationLine(side, { qemuVersion }));
    this.pushStack(side, qemuVersion);
  }

  /** One `stack` record per side and version: the greeting and `query-version` say the same. */
  private pushStack(side: VfioSide, qemuVersion: string): void {
    if (this.stackPushed[side] === qemuVersion) return;
    this.stackPushed[side] = qemuVersion;
    const record: StackRecord = { kind: 'stack', migrationId: this.options.migrationId, side, qemuVersion };
    this.options.sink.push(record, this.recordSource);
  }

  private keep(line: string): number {
    this.options.writeLine?.(line);
    return ++this.lines;
  }

  private onEvent(line: string): RecordedLine {
    // The importer's reading (qmp-log.ts), so both read the same time from the same line; an
    // event without a timestamp is one the importer would reject too.
    const read = readQmpEvent(JSON.parse(line), this.lines + 1);
    if ('error' in read) return { kind: 'other' };
    const starts = read.event.event === 'MIGRATION' && read.event.data['status'] === 'setup';
    if (this.phaseValue === 'waiting') {
      if (!starts) return { kind: 'other' };
      this.begin();
    }
    const event: QmpEvent = { ...read.event, line: this.keep(line) };
    this.events.push(event);
    return { kind: 'event', event };
  }

  private onParameters(line: string): RecordedLine {
    const r = (JSON.parse(line) as JsonObject)['return'];
    const limit = isJsonObject(r) && typeof r['downtime-limit'] === 'number' ? r['downtime-limit'] : undefined;
    this.keep(line);
    if (limit !== undefined) {
      // As the importer: the latest limit applies to the migration until it ends.
      this.limitMs = limit;
      if (this.phaseValue === 'recording') this.migrationLimitMs = limit;
    }
    return { kind: 'parameters', downtimeLimitMs: limit };
  }

  private onPoll(line: string): RecordedLine {
    // The log line, parsed once: its `"ts"` is the time the importer reads from it.
    const v = JSON.parse(line) as JsonObject;
    const read = isJsonObject(v['return']) && 'status' in v['return'] ? readQueryMigrate(v['return'], Number(v['ts']) * 1000, this.lines + 1) : { poll: undefined };
    // A reply QEMU's schema would not allow is for the caller to report.
    if ('error' in read) throw new QmpProtocolError(this.options.source, `query-migrate reply: ${read.error}`, line);
    const typed = read.poll;
    // `{}` or status `none`.
    if (typed === undefined) return { kind: 'skipped-poll', why: 'no-migration', status: undefined };
    const status = typed.status;
    const final = MIGRATION_FINAL_STATUSES.has(status);
    if (this.phaseValue === 'ended') return { kind: 'skipped-poll', why: 'after-end', status };
    if (this.phaseValue === 'waiting') {
      if (final) return { kind: 'skipped-poll', why: 'earlier-migration', status };
      this.begin();
    }
    if (status === 'completed' && !((typed.totalTimeMs ?? 0) > 0)) return { kind: 'skipped-poll', why: 'no-statistics-yet', status };
    const poll: QmpPoll = { ...typed, line: this.keep(line) };
    this.polls.push(poll);
    if (final) this.phaseValue = 'ended';
    this.pushRam(poll);
    return { kind: 'poll', poll };
  }

  private begin(): void {
    this.phaseValue = 'recording';
    this.migrationLimitMs = this.limitMs;
  }

  /** The poll's `ram` record, by the importer's conversion (dated at the poll's host time). */
  private pushRam(poll: QmpPoll): void {
    const r = ramRecordOf(this.options.migrationId, poll);
    if (r === undefined) return;
    this.options.sink.push(r, this.recordSource);
    this.ramRecords++;
  }
}
