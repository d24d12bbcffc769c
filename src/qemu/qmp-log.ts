/**
 * Pure parser for real QEMU migration telemetry, the two "QMP logs" forms of
 * `shared/specs/design.md`:
 *
 * 1. a QMP wire log, JSON lines as QMP speaks them: events
 *    `{"event","data","timestamp":{"seconds","microseconds"}}` and replies `{"return":{...}}`
 *    to `query-migrate` carrying a host receive time in a top-level `"ts"` (epoch s, float);
 *    a reply to `query-migrate-parameters` (`{"return":{"downtime-limit":...}}`) sets the
 *    deadline; the greeting `{"QMP":...}`, `{"error":...}` and other replies are ignored;
 * 2. a JSON array of polls `[{"ts"|"t_monotonic", "query_migrate": {...}}, ...]`, as in
 *    `qemu-kvm-postgres-migration/raw/*\/mig-stats-run-*.json` (unordered arrays are sorted;
 *    `{}` polls, QEMU's answer before a migration exists, are skipped). `ts` (epoch s) is used
 *    when every poll has it; else `t_monotonic`, and the migration says `clock: 'monotonic'`.
 *
 * Field meanings are QEMU's `MigrationInfo` (`qapi/migration.json`); see
 * `shared/specs/switchover-today.md` §2.1. No I/O: text in, typed migrations out.
 */
import type { QmpEvent, QmpMigration, QmpPoll, QmpRamStats } from './qmp-types.js';
import { jsonArrayElementLines } from './json-lines.js';
import { lineQemuVersion } from './qemu-version.js';
import { addVfioAnnotation, emptyVfioLog, isVfioAnnotation, VfioAnnotationError, type VfioLog } from './vfio-records.js';
import { GovernorAnnotationError, isGovernorAnnotation, readGovernorAnnotation, type GovernorLog } from './governor-annotation.js';
import { isJsonObject, type JsonObject } from '../json/guards.js';

export type { QmpEvent, QmpMigration, QmpPoll, QmpRamStats } from './qmp-types.js';
export { migrationToRecords } from './qmp-records.js';

/** A line that could not be used; the rest of the file still is. */
export interface QmpLogError {
  readonly file: string;
  readonly line: number;
  readonly reason: string;
}

/** What {@link parseQmpLog} returns. */
export interface QmpLogParse {
  readonly migrations: QmpMigration[];
  readonly errors: QmpLogError[];
}

/** In the reason of the error {@link parseQmpLog} reports for a migration without an outcome. */
export const NEVER_COMPLETED = 'never completed';

/** Statuses after which QEMU starts a new migration rather than continuing this one. */
const TERMINAL_STATUSES: ReadonlySet<string> = new Set(['completed', 'failed', 'cancelled']);

/** Thrown inside this module only, turned into a {@link QmpLogError} with its line. */
class BadField extends Error {}

function num(o: JsonObject, key: string, where: string): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new BadField(`${where}${key} is not a finite number`);
  return v;
}

function reqNum(o: JsonObject, key: string, where: string): number {
  const v = num(o, key, where);
  if (v === undefined) throw new BadField(`${where}${key} is missing`);
  return v;
}

function parseRam(v: unknown): QmpRamStats {
  if (!isJsonObject(v)) throw new BadField('ram is not an object');
  const w = 'ram.';
  const opt = (key: string): number | undefined => num(v, key, w);
  const ram: { -readonly [K in keyof QmpRamStats]: QmpRamStats[K] } = {
    totalBytes: reqNum(v, 'total', w),
    transferredBytes: reqNum(v, 'transferred', w),
    remainingBytes: reqNum(v, 'remaining', w),
  };
  const optional: [keyof QmpRamStats, string][] = [
    ['precopyBytes', 'precopy-bytes'],
    ['downtimeBytes', 'downtime-bytes'],
    ['postcopyBytes', 'postcopy-bytes'],
    ['dirtySyncCount', 'dirty-sync-count'],
    ['dirtyPagesPerS', 'dirty-pages-rate'],
    ['pageSizeBytes', 'page-size'],
    ['mbps', 'mbps'],
  ];
  for (const [name, key] of optional) {
    const x = opt(key);
    if (x !== undefined) ram[name] = x;
  }
  return ram;
}

/**
 * Types one `query-migrate` return value; `undefined` for `{}` (no migration yet, or the
 * status `none`), which is not an error.
 */
function parsePoll(q: unknown, atMs: number, line: number): QmpPoll | undefined {
  if (!isJsonObject(q)) throw new BadField('query-migrate value is not an object');
  const status = q['status'];
  if (status === undefined) {
    if (Object.keys(q).length === 0) return undefined;
    throw new BadField('query-migrate reply has no status');
  }
  if (typeof status !== 'string') throw new BadField('status is not a string');
  if (status === 'none') return undefined;
  const poll: { -readonly [K in keyof QmpPoll]: QmpPoll[K] } = { atMs, line, status };
  const fields: [keyof QmpPoll, string][] = [
    ['totalTimeMs', 'total-time'],
    ['setupTimeMs', 'setup-time'],
    ['expectedDowntimeMs', 'expected-downtime'],
    ['downtimeMs', 'downtime'],
    ['cpuThrottlePercent', 'cpu-throttle-percentage'],
  ];
  for (const [name, key] of fields) {
    const x = num(q, key, '');
    if (x !== undefined) (poll as Record<string, unknown>)[name] = x;
  }
  if (q['ram'] !== undefined) poll.ram = parseRam(q['ram']);
  const vfio = q['vfio'];
  if (isJsonObject(vfio)) {
    const x = num(vfio, 'transferred', 'vfio.');
    if (x !== undefined) poll.vfioTransferredBytes = x;
  }
  const errorDesc = q['error-desc'];
  if (typeof errorDesc === 'string') poll.errorDesc = errorDesc;
  return poll;
}

/** A `query-migrate` reply read on its own: the typed poll (none for `{}` and `none`), or why not. */
export type QueryMigrateRead = { readonly poll: QmpPoll | undefined } | { readonly error: string };

/**
 * Types one `query-migrate` return value received at `atMs` (the line's `"ts"` × 1000), as the
 * importer does for every reply of a log: `vfio-sla watch` converts each live poll with this.
 */
export function readQueryMigrate(value: unknown, atMs: number, line: number): QueryMigrateRead {
  try {
    return { poll: parsePoll(value, atMs, line) };
  } catch (e) {
    if (e instanceof BadField) return { error: e.message };
    throw e;
  }
}

/**
 * A QMP event line's event, with QEMU's `timestamp` as epoch ms — the importer's reading of an
 * event, shared with `vfio-sla watch`. Throws a `BadField` (reported per line) without a timestamp.
 */
function eventOf(v: JsonObject, event: string, line: number): QmpEvent {
  const ts = v['timestamp'];
  if (!isJsonObject(ts)) throw new BadField('event has no timestamp object');
  const atMs = reqNum(ts, 'seconds', 'timestamp.') * 1000 + reqNum(ts, 'microseconds', 'timestamp.') / 1000;
  return { atMs, line, event, data: isJsonObject(v['data']) ? v['data'] : {} };
}

/** {@link eventOf} for one event line's JSON, or why it is not one. */
export function readQmpEvent(value: unknown, line: number): { readonly event: QmpEvent } | { readonly error: string } {
  try {
    if (!isJsonObject(value) || typeof value['event'] !== 'string') throw new BadField('not an event');
    return { event: eventOf(value, value['event'], line) };
  } catch (e) {
    if (e instanceof BadField) return { error: e.message };
    throw e;
  }
}

/** `downtime-limit` of a `query-migrate-parameters` reply, if the value is one. */
function parseDowntimeLimit(r: JsonObject): number | undefined {
  if (!('downtime-limit' in r)) return undefined;
  return reqNum(r, 'downtime-limit', '');
}

/** Collects one migration's polls and events while a file is read. */
interface Builder {
  polls: QmpPoll[];
  events: QmpEvent[];
  ended: boolean;
  downtimeLimitMs: number | undefined;
  vfio: VfioLog | undefined;
  monotonic: boolean;
  qemuVersion: string | undefined;
  governor?: GovernorLog;
}

function newBuilder(limit: number | undefined, qemuVersion?: string): Builder {
  return { polls: [], events: [], ended: false, downtimeLimitMs: limit, vfio: undefined, monotonic: false, qemuVersion };
}

/** `Precopy_Convergent/mig-stats-run-1` for `.../raw/Precopy_Convergent/mig-stats-run-1.json`. */
export function migrationIdFromPath(file: string): string {
  const parts = file.split(/[\\/]+/).filter((p) => p.length > 0);
  const last = (parts[parts.length - 1] ?? file).replace(/\.[^.]*$/, '');
  const dir = parts[parts.length - 2];
  return dir === undefined ? last : `${dir}/${last}`;
}

function finish(builders: Builder[], file: string, errors: QmpLogError[]): QmpMigration[] {
  const base = migrationIdFromPath(file);
  const out: QmpMigration[] = [];
  const used = builders.filter((b) => b.polls.length > 0);
  used.forEach((b, i) => {
    const polls = [...b.polls].sort((a, c) => a.atMs - c.atMs || a.line - c.line);
    const events = [...b.events].sort((a, c) => a.atMs - c.atMs || a.line - c.line);
    const migrationId = i === 0 ? base : `${base}#${i + 1}`;
    const m: QmpMigration = {
      migrationId,
      file,
      polls,
      events,
      ...(b.downtimeLimitMs === undefined ? {} : { downtimeLimitMs: b.downtimeLimitMs }),
      ...(b.vfio === undefined ? {} : { vfio: b.vfio }),
      ...(b.governor === undefined ? {} : { governor: b.governor }),
      ...(b.qemuVersion === undefined ? {} : { qemuVersion: b.qemuVersion }),
      ...(b.monotonic ? { clock: 'monotonic' as const } : {}),
    };
    const done = polls.find((p) => p.status === 'completed' && p.ram !== undefined && p.downtimeMs !== undefined);
    if (done === undefined) {
      const last = polls[polls.length - 1];
      const lastStatus = last?.status ?? 'none';
      errors.push({
        file,
        line: last?.line ?? 1,
        reason: `migration ${migrationId} ${NEVER_COMPLETED} with statistics (last status: ${lastStatus}); no outcome`,
      });
    }
    out.push(m);
  });
  return out;
}

/** Form 1: JSON lines. */
function parseWireLog(text: string, file: string, errors: QmpLogError[]): Builder[] {
  const builders: Builder[] = [];
  let cur: Builder | undefined;
  let limit: number | undefined;
  // One log is one QEMU's monitor: its greeting (or a query-version reply) dates every migration after it.
  let version: string | undefined;
  const open = (): Builder => {
    cur = newBuilder(limit, version);
    builders.push(cur);
    return cur;
  };
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const raw = (lines[i] ?? '').trim();
    if (raw.length === 0) continue;
    let v: unknown;
    try {
      v = JSON.parse(raw);
    } catch (e) {
      errors.push({ file, line: lineNo, reason: `not JSON: ${(e as Error).message}` });
      continue;
    }
    try {
      if (!isJsonObject(v)) throw new BadField('line is not a JSON object');
      const stated = lineQemuVersion(v);
      if (stated !== undefined) {
        version = stated;
        if (cur !== undefined && !cur.ended) cur.qemuVersion = stated;
        continue;
      }
      if ('QMP' in v || 'error' in v) continue;
      if (isGovernorAnnotation(v)) {
        // Written after the migration's end: it belongs to the migration just read.
        try {
          (cur ?? open()).governor = readGovernorAnnotation(v);
        } catch (e) {
          if (e instanceof GovernorAnnotationError) throw new BadField(e.message);
          throw e;
        }
        continue;
      }
      if (isVfioAnnotation(v)) {
        const b = cur ?? open();
        b.vfio ??= emptyVfioLog();
        try {
          addVfioAnnotation(b.vfio, v, lineNo);
        } catch (e) {
          if (e instanceof VfioAnnotationError) throw new BadField(e.message);
          throw e;
        }
        continue;
      }
      if (typeof v['event'] === 'string') {
        const ev = eventOf(v, v['event'], lineNo);
        const starts = ev.event === 'MIGRATION' && ev.data['status'] === 'setup';
        const b = cur === undefined || (starts && (cur.ended || cur.polls.length > 0)) ? open() : cur;
        b.events.push(ev);
        continue;
      }
      if ('return' in v) {
        const r = v['return'];
        if (!isJsonObject(r)) continue; // replies to other commands (lists, strings)
        const newLimit = parseDowntimeLimit(r);
        if (newLimit !== undefined) {
          limit = newLimit;
          if (cur !== undefined && !cur.ended) cur.downtimeLimitMs = newLimit;
          continue;
        }
        if (!('status' in r)) continue; // `{}` or a reply to another command
        const tsS = num(v, 'ts', '');
        if (tsS === undefined) throw new BadField('query-migrate reply has no top-level "ts"');
        const poll = parsePoll(r, tsS * 1000, lineNo);
        if (poll === undefined) continue;
        const terminal = TERMINAL_STATUSES.has(poll.status);
        const b = cur === undefined || (cur.ended && !terminal) ? open() : cur;
        b.polls.push(poll);
        if (terminal) b.ended = true;
        continue;
      }
      throw new BadField('neither an event, a reply nor a greeting');
    } catch (e) {
      if (!(e instanceof BadField)) throw e;
      errors.push({ file, line: lineNo, reason: e.message });
    }
  }
  return builders;
}

/** Form 2: one JSON array of polls, one migration. */
function parsePollArray(text: string, file: string, errors: QmpLogError[]): Builder[] {
  let arr: unknown;
  try {
    // A byte order mark some editors write before the text is not JSON (RFC 8259 §8.1: a parser
    // may ignore it); the records and wire-log forms skip it too.
    arr = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (e) {
    const msg = (e as Error).message;
    const pos = /position (\d+)/.exec(msg);
    const line = pos?.[1] === undefined ? 1 : text.slice(0, Number(pos[1])).split('\n').length;
    errors.push({ file, line, reason: `not JSON: ${msg}` });
    return [];
  }
  if (!Array.isArray(arr)) {
    errors.push({ file, line: 1, reason: 'not a JSON array of polls' });
    return [];
  }
  const elementLines = jsonArrayElementLines(text);
  const b = newBuilder(undefined);
  // Unix time when every poll has it; else the monotonic clock throughout (never a mix of both).
  b.monotonic = !arr.every((el: unknown) => isJsonObject(el) && typeof el['ts'] === 'number');
  const timeKey = b.monotonic ? 't_monotonic' : 'ts';
  arr.forEach((el: unknown, i) => {
    const line = elementLines[i] ?? 1;
    try {
      if (!isJsonObject(el)) throw new BadField(`poll ${i} is not an object`);
      const t = num(el, timeKey, '');
      if (t === undefined) {
        throw new BadField(
          typeof el['ts'] === 'number'
            ? `poll ${i} has a ts but no t_monotonic, and the array is timed by t_monotonic (not every poll has a ts)`
            : `poll ${i} has neither t_monotonic nor ts`,
        );
      }
      const params = el['query_migrate_parameters'];
      if (isJsonObject(params)) {
        const lim = parseDowntimeLimit(params);
        if (lim !== undefined) b.downtimeLimitMs = lim;
      }
      if (!('query_migrate' in el)) throw new BadField(`poll ${i} has no query_migrate`);
      const poll = parsePoll(el['query_migrate'], t * 1000, line);
      if (poll !== undefined) b.polls.push(poll);
    } catch (e) {
      if (!(e instanceof BadField)) throw e;
      errors.push({ file, line, reason: e.message });
    }
  });
  return [b];
}

/**
 * `m` with its monotonic times moved to Unix time so that its last poll falls at
 * `lastPollAtEpochMs` (for a poll array: the file's modification time, when its writer closed
 * it after the last poll). `m` itself when its times are Unix time already.
 */
export function anchorMonotonic(m: QmpMigration, lastPollAtEpochMs: number): QmpMigration {
  if (m.clock !== 'monotonic') return m;
  const offsetMs = lastPollAtEpochMs - (m.polls[m.polls.length - 1]?.atMs ?? 0);
  const { clock: _monotonic, ...rest } = m;
  return {
    ...rest,
    polls: m.polls.map((p) => ({ ...p, atMs: p.atMs + offsetMs })),
    events: m.events.map((e) => ({ ...e, atMs: e.atMs + offsetMs })),
  };
}

/**
 * Parses one file's text in either QMP form (detected from the first character: `[` is the
 * poll array). Bad lines become errors with `file:line` and a reason; the rest goes on.
 * A migration that never reached `completed` with statistics is still returned (its polls
 * are real pre-copy data) but also reported as an error: it has no outcome.
 */
export function parseQmpLog(text: string, file: string): QmpLogParse {
  const errors: QmpLogError[] = [];
  const builders = text.trimStart().startsWith('[')
    ? parsePollArray(text, file, errors)
    : parseWireLog(text, file, errors);
  const migrations = finish(builders, file, errors);
  return { migrations, errors };
}
