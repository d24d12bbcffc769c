import { describe, expect, it } from 'vitest';
import type { RecordKind } from '../../src/records/records.js';
import { RECORD_FIELDS, parseRecordLine, validateRecord } from '../../src/telemetry/validate.js';
import { arc, outcome, ram, size, transfer } from '../store/fixtures.js';

describe('validateRecord', () => {
  it.each([
    ['arc', arc()],
    ['arc with errno and deadline', arc({ ok: false, errno: 'EIO', deadlineMs: 300 })],
    ['size', size({ initialBytes: 10, dirtyBytes: 0 })],
    ['transfer', transfer({ phase: 'stopcopy' })],
    ['transfer with a link', transfer({ phase: 'stopcopy', link: '25G' })],
    ['transfer with a 128-character link', transfer({ link: 'n'.repeat(128) })],
    ['ram', ram({ expectedDowntimeMs: 300 })],
    ['outcome', outcome({ met: false })],
  ])('returns a valid %s record itself, not a copy', (_name, record) => {
    expect(validateRecord(record)).toBe(record);
  });

  it('ignores fields the contract does not name', () => {
    const record = { ...ram(), vendorExtra: 42 };
    expect(validateRecord(record)).toBe(record);
  });

  it.each([
    ['not an object', 42, 'record: expected a JSON object, got 42'],
    ['an array', [1], 'record: expected a JSON object, got an array'],
    ['no kind', { migrationId: 'm' }, 'record: no "kind"'],
    ['an unknown kind', { kind: 'disk' }, 'record: unknown kind "disk"'],
    ['a negative latency', arc({ latencyMs: -3 }), 'arc.latencyMs: expected a non-negative number of ms up to 366 days, got -3'],
    ['a NaN latency', arc({ latencyMs: Number.NaN }), 'arc.latencyMs: expected a non-negative number of ms up to 366 days, got NaN'],
    ['an infinite time', ram({ atMs: Number.POSITIVE_INFINITY }), 'ram.atMs: expected a time in ms from 0 to the year 9999, got Infinity'],
    ['a negative size', size({ stopCopyBytes: -1 }), 'size.stopCopyBytes: expected a non-negative integer of bytes up to 2^50, got -1'],
    ['a fractional size', transfer({ bytes: 1.5 }), 'transfer.bytes: expected a non-negative integer of bytes up to 2^50, got 1.5'],
    ['a latency given as a string', { ...arc(), latencyMs: '12' }, 'arc.latencyMs: expected a non-negative number of ms up to 366 days, got "12"'],
    ['an unknown state name', arc({ to: 'STOPCOPY' }), 'arc.to: expected a VFIO migration state name, got "STOPCOPY"'],
    ['a missing device id', { ...arc(), deviceId: undefined }, 'arc.deviceId: expected a non-empty string without control characters, got nothing'],
    ['ok given as a number', { ...arc(), ok: 1 }, 'arc.ok: expected true or false, got 1'],
    ['an unknown phase', { ...transfer(), phase: 'postcopy' }, 'transfer.phase: expected "precopy" or "stopcopy", got "postcopy"'],
    ['a fractional pass', ram({ pass: 1.5 }), 'ram.pass: expected a non-negative integer, got 1.5'],
    ['a null optional field', { ...ram(), expectedDowntimeMs: null }, 'ram.expectedDowntimeMs: expected a non-negative number of ms up to 366 days, got null'],
    ['an empty policy', outcome({ policy: '' }), 'outcome.policy: expected a non-empty string without control characters, got ""'],
    ['an empty link', transfer({ link: '' }), 'transfer.link: expected a link name of 1–128 characters without control characters, got ""'],
    ['a 129-character link', transfer({ link: 'n'.repeat(129) }), `transfer.link: expected a link name of 1–128 characters without control characters, got "${'n'.repeat(40)}…"`],
    ['a numeric link', { ...transfer(), link: 25 }, 'transfer.link: expected a link name of 1–128 characters without control characters, got 25'],
    ['a null link', { ...transfer(), link: null }, 'transfer.link: expected a link name of 1–128 characters without control characters, got null'],
  ])('rejects %s with a reason naming the field', (_name, value, reason) => {
    expect(validateRecord(value)).toBe(reason);
  });
});

describe('RECORD_FIELDS', () => {
  it.each([
    ['arc', arc({ errno: 'EIO', deadlineMs: 1 })],
    ['size', size({ initialBytes: 1, dirtyBytes: 1 })],
    ['transfer', transfer({ link: '25G' })],
    ['ram', ram({ expectedDowntimeMs: 1 })],
    ['outcome', outcome()],
  ] as const)('checks every field of a complete %s record', (kind: RecordKind, record) => {
    const fields = RECORD_FIELDS[kind].map(([key]) => key).sort();
    expect(fields).toEqual(Object.keys(record).filter((k) => k !== 'kind').sort());
  });
});

describe('parseRecordLine', () => {
  it('parses and validates one JSON line', () => {
    expect(parseRecordLine(JSON.stringify(size()))).toEqual(size());
  });

  it('rejects a line that is not JSON with a "bad JSON" reason', () => {
    expect(parseRecordLine('{"kind":"arc",')).toMatch(/^bad JSON: /);
  });

  it('rejects NaN written into a line as bad JSON', () => {
    expect(parseRecordLine('{"kind":"ram","atMs":NaN}')).toMatch(/^bad JSON: /);
  });
});
