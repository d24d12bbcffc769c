import { describe, expect, it } from 'vitest';
import { Subject, toArray, firstValueFrom } from 'rxjs';
import { qmpLogLines, toQmpLogLine } from '../../src/qemu/qmp-wire-log.js';
import type { QmpWireLine } from '../../src/qemu/qmp-protocol.js';

const at = 1_700_000_000_123.5; // epoch ms

function reply(line: string, command: string | undefined, kind: 'return' | 'error' = 'return'): QmpWireLine {
  return command === undefined ? { direction: 'in', kind, line, atMs: at } : { direction: 'in', kind, line, atMs: at, command };
}

describe('QMP wire log (form 1)', () => {
  it('adds the receive time as top-level "ts" in epoch seconds to a query-migrate reply', () => {
    const line = toQmpLogLine(reply('{"return": {"status": "active"}, "id": "c3"}', 'query-migrate'));
    expect(JSON.parse(line ?? '')).toEqual({ return: { status: 'active' }, id: 'c3', ts: 1_700_000_000.1235 });
  });

  it('keeps query-migrate-parameters replies and error replies to the migration queries', () => {
    expect(JSON.parse(toQmpLogLine(reply('{"return": {"downtime-limit": 300}}', 'query-migrate-parameters')) ?? '')).toMatchObject({
      ts: 1_700_000_000.1235,
    });
    const err = toQmpLogLine(reply('{"error": {"class": "GenericError", "desc": "x"}}', 'query-migrate', 'error'));
    expect(JSON.parse(err ?? '')).toMatchObject({ error: { class: 'GenericError' }, ts: 1_700_000_000.1235 });
  });

  it.each([
    ['a query-status reply (it has a status too)', reply('{"return": {"status": "running", "running": true}}', 'query-status')],
    ['a late reply to no known command', reply('{"return": {"status": "active"}}', undefined)],
    ['a sent command', { direction: 'out', kind: 'command', line: '{"execute": "query-migrate", "id": "c1"}', atMs: at, command: 'query-migrate' } as const],
    ['an invalid line', { direction: 'in', kind: 'invalid', line: 'junk', atMs: at } as const],
  ])('leaves out %s', (_what, w) => {
    expect(toQmpLogLine(w)).toBeUndefined();
  });

  it('keeps events and the greeting exactly as QEMU sent them', () => {
    const ev = '{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "MIGRATION_PASS", "data": {"pass": 1}}';
    expect(toQmpLogLine({ direction: 'in', kind: 'event', line: ev, atMs: at })).toBe(ev);
    expect(toQmpLogLine({ direction: 'in', kind: 'greeting', line: '{"QMP": {}}', atMs: at })).toBe('{"QMP": {}}');
  });

  it('qmpLogLines maps a wire stream to log lines, with a custom reply set', async () => {
    const wire = new Subject<QmpWireLine>();
    const out = firstValueFrom(qmpLogLines(wire, new Set(['query-status'])).pipe(toArray()));
    wire.next({ direction: 'out', kind: 'command', line: '{"execute": "query-status", "id": "c1"}', atMs: at, command: 'query-status' });
    wire.next(reply('{"return": {"status": "running"}, "id": "c1"}', 'query-status'));
    wire.next(reply('{"return": {}, "id": "c2"}', 'query-migrate'));
    wire.complete();
    expect(await out).toEqual(['{"return": {"status": "running"}, "id": "c1", "ts": 1700000000.1235}']);
  });
});
