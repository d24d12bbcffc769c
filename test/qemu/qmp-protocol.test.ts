import { describe, expect, it } from 'vitest';
import { parseQmpMessage } from '../../src/qemu/qmp-protocol.js';

describe('parseQmpMessage', () => {
  it.each([
    [
      'a greeting',
      '{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "Debian 1:7.2+dfsg-7+deb12u18"}, "capabilities": ["oob"]}}',
      { type: 'greeting', greeting: { version: { qemu: { major: 7, minor: 2, micro: 22 }, package: 'Debian 1:7.2+dfsg-7+deb12u18' }, capabilities: ['oob'] } },
    ],
    ['a success with id', '{"return": {}, "id": "c1"}', { type: 'return', id: 'c1', value: {} }],
    ['a success without id', '{"return": [1]}', { type: 'return', id: undefined, value: [1] }],
    [
      'an error',
      '{"error": {"class": "CommandNotFound", "desc": "The command x has not been found"}, "id": "c2"}',
      { type: 'error', id: 'c2', errorClass: 'CommandNotFound', desc: 'The command x has not been found' },
    ],
    [
      'an event with data',
      '{"timestamp": {"seconds": 1700000000, "microseconds": 250000}, "event": "MIGRATION", "data": {"status": "setup"}}',
      { type: 'event', event: 'MIGRATION', data: { status: 'setup' }, timestamp: { seconds: 1700000000, microseconds: 250000 } },
    ],
    [
      'an event without data',
      '{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "STOP"}',
      { type: 'event', event: 'STOP', data: {}, timestamp: { seconds: 1, microseconds: 2 } },
    ],
  ])('narrows %s', (_what, line, expected) => {
    expect(parseQmpMessage(line)).toEqual(expected);
  });

  it.each([
    ['text', 'hello'],
    ['an array', '[1,2]'],
    ['an object of no known kind', '{"foo": 1}'],
    ['a greeting without version', '{"QMP": {"capabilities": []}}'],
    ['an event without timestamp', '{"event": "STOP"}'],
    ['an error that is a string', '{"error": "bad"}'],
  ])('reports %s as invalid', (_what, line) => {
    expect(parseQmpMessage(line).type).toBe('invalid');
  });
});
