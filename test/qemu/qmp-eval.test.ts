import { describe, expect, it } from 'vitest';
import { parseQmpLog, type QmpMigration } from '../../src/qemu/qmp-log.js';
import { precopyExclusion, qmpEvalInput } from '../../src/qemu/qmp-eval.js';
import { pollArrayToWireLog } from './wire-log-fixture.js';

const ram = (o: Record<string, number> = {}) => ({ total: 100, transferred: 50, remaining: 10, 'downtime-bytes': 0, 'postcopy-bytes': 0, 'dirty-sync-count': 1, 'dirty-pages-rate': 1, 'page-size': 4096, mbps: 8, ...o });
const polls = (over: { active?: Record<string, number>; done?: Record<string, number>; activeStatus?: string } = {}) => [
  { ts: 1, query_migrate: { status: over.activeStatus ?? 'active', 'total-time': 100, 'expected-downtime': 300, ram: ram(over.active) } },
  { ts: 2, query_migrate: { status: 'completed', 'total-time': 200, downtime: 12, ram: ram({ 'downtime-bytes': 10, ...over.done }) } },
];
const one = (text: string): QmpMigration => parseQmpLog(text, 'h/r.json').migrations[0] as QmpMigration;

describe('precopyExclusion', () => {
  it('keeps an ordinary pre-copy migration', () => {
    expect(precopyExclusion(one(JSON.stringify(polls())))).toBeUndefined();
  });

  it('leaves out post-copy, by status or by post-copy bytes', () => {
    expect(precopyExclusion(one(JSON.stringify(polls({ activeStatus: 'postcopy-active' }))))).toMatch(/^post-copy/);
    expect(precopyExclusion(one(JSON.stringify(polls({ done: { 'postcopy-bytes': 5 } }))))).toMatch(/^post-copy/);
  });

  it('leaves out a VM paused before migration: downtime bytes while active, or a STOP event first', () => {
    expect(precopyExclusion(one(JSON.stringify(polls({ active: { 'downtime-bytes': 5 } }))))).toMatch(/^VM already paused/);
    const wire = pollArrayToWireLog(polls() as never);
    const stopFirst = [wire[0] as string, JSON.stringify({ event: 'STOP', timestamp: { seconds: 1_784_000_000, microseconds: 0 } }), ...wire.slice(1)];
    expect(precopyExclusion(one(stopFirst.join('\n')))).toMatch(/^VM already paused/);
    expect(precopyExclusion(one(wire.join('\n')))).toBeUndefined();
  });

  it('leaves out migrations that never completed', () => {
    expect(precopyExclusion(one(JSON.stringify(polls().slice(0, 1))))).toMatch(/^never completed/);
  });
});

describe('qmpEvalInput', () => {
  it('turns files into cases and exclusions, keeping bad lines as errors', () => {
    const input = qmpEvalInput([
      { file: 'a/ok.json', text: JSON.stringify(polls()) },
      { file: 'a/pc.json', text: JSON.stringify(polls({ activeStatus: 'postcopy-active' })) },
      { file: 'a/bad.log', text: 'nope\n' },
    ]);
    expect(input.cases.map((c) => c.migrationId)).toEqual(['a/ok']);
    expect(input.cases[0]?.records.map((r) => r.kind)).toEqual(['ram', 'transfer', 'transfer', 'outcome', 'attempt']);
    expect(input.excluded).toEqual([{ migrationId: 'a/pc', reason: expect.stringMatching(/^post-copy/) as string }]);
    expect(input.errors).toEqual([{ file: 'a/bad.log', line: 1, reason: expect.stringMatching(/^not JSON/) as string }]);
  });
});
