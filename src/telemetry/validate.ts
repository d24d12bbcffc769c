/**
 * Validation of telemetry records (design.md "Telemetry records"): `unknown` in, the typed record
 * or a reason naming the bad field out. Pure and allocation-free on the happy path: it sits on
 * the ingest hot path (measured in `bench/ingest.ts`), so a valid input object is returned as
 * it is, not copied. Fields the contract does not name are ignored (forward compatibility).
 */
import { parseStateName } from '../fsm/index.js';
import { ATTEMPT_STATUSES, type RecordKind, type TelemetryRecord } from '../records/records.js';

type Obj = Readonly<Record<string, unknown>>;

/** A field check: `null` when the value is fine, else what was expected (for the reason). */
type Check = (v: unknown) => string | null;

/**
 * C0 and C1 control characters and DEL: never in a name. A NUL would end the string for SQLite's
 * `length()` (so `transfers.link`'s CHECK would refuse what validation passed), and escape
 * sequences in ids would reach the terminal of whoever lists them.
 */
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;
const text: Check = (v) => (typeof v === 'string' && v.length > 0 && !CONTROL_CHARS.test(v) ? null : 'a non-empty string without control characters');
/**
 * The last instant with a four-digit year, 9999-12-31T23:59:59.999Z, ms: a time point past it
 * is no clock's reading, and `Date` itself ends at 8.64e15 ms (ECMA-262 §21.4.1.22, "Time
 * Values and Time Range"), where `toISOString()` throws "Invalid time value".
 */
export const MAX_TIME_MS = 253_402_300_799_999;
/** The longest duration a record may carry, ms: 366 days — no migration arc or blackout lasts longer. */
export const MAX_DURATION_MS = 366 * 86_400_000;
/** The largest size or rate a record may carry: 2^50 bytes (1 PiB, or 1 PiB/s) — past any VM or link. */
export const MAX_BYTES = 2 ** 50;
/** A time point in ms: 0 ≤ t ≤ {@link MAX_TIME_MS} (`v >= 0` is false for NaN). */
const time: Check = (v) => (typeof v === 'number' && v >= 0 && v <= MAX_TIME_MS ? null : 'a time in ms from 0 to the year 9999');
/** A duration in ms: 0 ≤ d ≤ {@link MAX_DURATION_MS}. */
const ms: Check = (v) => (typeof v === 'number' && v >= 0 && v <= MAX_DURATION_MS ? null : 'a non-negative number of ms up to 366 days');
/** A size in bytes: an integer from 0 to {@link MAX_BYTES}. */
const bytes: Check = (v) => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= MAX_BYTES ? null : 'a non-negative integer of bytes up to 2^50');
/** A rate (bytes/s): 0 to {@link MAX_BYTES}, fractions allowed (QEMU reports Mbit/s averages). */
const rate: Check = (v) => (typeof v === 'number' && v >= 0 && v <= MAX_BYTES ? null : 'a non-negative rate up to 2^50');
const count: Check = (v) => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? null : 'a non-negative integer');
const flag: Check = (v) => (typeof v === 'boolean' ? null : 'true or false');
const state: Check = (v) => (typeof v === 'string' && parseStateName(v) !== undefined ? null : 'a VFIO migration state name');
const phase: Check = (v) => (v === 'precopy' || v === 'stopcopy' ? null : '"precopy" or "stopcopy"');
const status: Check = (v) => (typeof v === 'string' && (ATTEMPT_STATUSES as readonly string[]).includes(v) ? null : '"completed", "aborted", "cancelled" or "failed"');
/** Longest reason an attempt may carry: a decision reason or an error message, not a log. */
export const MAX_REASON_LENGTH = 512;
const side: Check = (v) => (v === 'source' || v === 'destination' ? null : '"source" or "destination"');
/** A QEMU version as `major.minor.micro` (QMP `VersionTriple`, `qapi/control.json`). */
const qemuVersion: Check = (v) => (typeof v === 'string' && /^\d{1,4}\.\d{1,4}\.\d{1,4}$/.test(v) ? null : 'a QEMU version "major.minor.micro"');
const reason: Check = (v) => (typeof v === 'string' && v.length > 0 && v.length <= MAX_REASON_LENGTH ? null : `a reason of 1–${MAX_REASON_LENGTH} characters`);

/** Longest link name a transfer may carry (UTF-16 code units): a NIC name or class, not a document. */
export const MAX_LINK_NAME_LENGTH = 128;

/** Why a `--link` option cannot name a link (empty, or longer than a record may carry), or undefined. */
export function linkOptionProblem(link: string | undefined): string | undefined {
  if (link === undefined || (link.length > 0 && link.length <= MAX_LINK_NAME_LENGTH)) return undefined;
  return `--link must be 1-${MAX_LINK_NAME_LENGTH} characters, got '${link.length > 40 ? `${link.slice(0, 40)}…` : link}'`;
}
const linkName: Check = (v) =>
  typeof v === 'string' && v.length > 0 && v.length <= MAX_LINK_NAME_LENGTH && !CONTROL_CHARS.test(v)
    ? null
    : `a link name of 1–${MAX_LINK_NAME_LENGTH} characters without control characters`;

const OPTIONAL = true;
type Field = readonly [key: string, check: Check, optional?: boolean];
/** Field tables whose keys are checked against the record types at compile time. */
type FieldTables = {
  readonly [K in RecordKind]: ReadonlyArray<
    readonly [key: Exclude<keyof Extract<TelemetryRecord, { kind: K }>, 'kind'>, check: Check, optional?: boolean]
  >;
};

/**
 * The contract of design.md "Telemetry records", field by field, in the order the reasons
 * report them. Optional fields may be absent (or `undefined` from a JS caller), not `null`.
 */
export const RECORD_FIELDS: Readonly<Record<RecordKind, readonly Field[]>> = {
  arc: [
    ['migrationId', text],
    ['deviceId', text],
    ['deviceModel', text],
    ['from', state],
    ['to', state],
    ['startedAtMs', time],
    ['latencyMs', ms],
    ['stopCopyBytes', bytes],
    ['ok', flag],
    ['errno', text, OPTIONAL],
    ['deadlineMs', ms, OPTIONAL],
  ],
  size: [
    ['migrationId', text],
    ['deviceId', text],
    ['atMs', time],
    ['stopCopyBytes', bytes],
    ['initialBytes', bytes, OPTIONAL],
    ['dirtyBytes', bytes, OPTIONAL],
  ],
  transfer: [
    ['migrationId', text],
    ['deviceId', text],
    ['phase', phase],
    ['bytes', bytes],
    ['durationMs', ms],
    ['link', linkName, OPTIONAL],
  ],
  ram: [
    ['migrationId', text],
    ['atMs', time],
    ['pass', count],
    ['remainingBytes', bytes],
    ['dirtyBytesPerS', rate],
    ['bandwidthBytesPerS', rate],
    ['expectedDowntimeMs', ms, OPTIONAL],
  ],
  outcome: [
    ['migrationId', text],
    ['policy', text],
    ['deadlineMs', ms],
    ['decidedAtMs', time],
    ['predictedBlackoutMs', ms],
    ['actualBlackoutMs', ms],
    ['met', flag],
  ],
  attempt: [
    ['migrationId', text],
    ['policy', text],
    ['status', status],
    ['reason', reason],
    ['deadlineMs', ms],
    ['totalTimeMs', ms],
    ['predictedBlackoutMs', ms, OPTIONAL],
  ],
  stack: [
    ['migrationId', text],
    ['side', side],
    ['qemuVersion', qemuVersion],
  ],
} satisfies FieldTables;

/** A short, printable rendering of a bad value for a reason string. */
function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (v === null || typeof v === 'boolean') return String(v);
  return Array.isArray(v) ? 'an array' : `a ${typeof v}`;
}

/**
 * Checks one record against the contract. Returns the record itself (typed, not copied) when
 * valid, else a reason naming the field, e.g. `arc.latencyMs: expected a non-negative number
 * of ms, got -3`. Rejects: non-objects, unknown `kind`, wrong types, negative or non-finite
 * times and sizes, non-integer sizes, unknown state names.
 */
export function validateRecord(value: unknown): TelemetryRecord | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return `record: expected a JSON object, got ${show(value)}`;
  }
  const o = value as Obj;
  const kind = o['kind'];
  if (kind === undefined) return 'record: no "kind"';
  if (typeof kind !== 'string' || !Object.hasOwn(RECORD_FIELDS, kind)) return `record: unknown kind ${show(kind)}`;
  for (const [key, check, optional] of RECORD_FIELDS[kind as RecordKind]) {
    const v = o[key];
    if (optional === true && v === undefined) continue;
    const expected = check(v);
    if (expected !== null) return `${kind}.${key}: expected ${expected}, got ${show(v)}`;
  }
  // Every field the contract names has the contract's type: the object is that record.
  return value as TelemetryRecord;
}

/** Parses and validates one JSON line; a reason string (`bad JSON: ...`) when it is not a record. */
export function parseRecordLine(line: string): TelemetryRecord | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (e) {
    return `bad JSON: ${(e as Error).message}`;
  }
  return validateRecord(value);
}
