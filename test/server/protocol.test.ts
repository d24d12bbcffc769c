import { describe, expect, it } from 'vitest';
import { MigFlags, MigState } from '../../src/fsm/index.js';
import { parseDecideParams } from '../../src/server/decide-params.js';
import { ServiceError } from '../../src/server/errors.js';
import { errorLine, parseRequest, resultLine } from '../../src/server/protocol.js';
import { decideRequest } from './helpers.js';

describe('parseRequest', () => {
  it.each([
    ['{"id":1,"method":"health"}', { id: 1, method: 'health', params: {} }],
    ['{"method":"model","params":{}}', { id: null, method: 'model', params: {} }],
    ['{"id":"a-b","method":"fit","params":{"exclude":["x"]}}', { id: 'a-b', method: 'fit', params: { exclude: ['x'] } }],
    ['{"id":false,"method":"record","params":{"kind":"arc"}}', { id: false, method: 'record', params: { kind: 'arc' } }],
  ])('reads %s', (line, expected) => {
    expect(parseRequest(line)).toEqual(expected);
  });

  it.each([
    ['{"id":1,', null, 'E_BAD_JSON', undefined],
    ['[1,2]', null, 'E_BAD_REQUEST', undefined],
    ['"health"', null, 'E_BAD_REQUEST', undefined],
    ['{"id":{"x":1},"method":"health"}', null, 'E_BAD_REQUEST', 'id'],
    ['{"id":[1],"method":"health"}', null, 'E_BAD_REQUEST', 'id'],
    ['{"id":7}', 7, 'E_BAD_REQUEST', 'method'],
    ['{"id":7,"method":"reboot"}', 7, 'E_UNKNOWN_METHOD', 'method'],
    ['{"id":7,"method":"__proto__"}', 7, 'E_UNKNOWN_METHOD', 'method'],
    ['{"id":7,"method":"decide","params":[1]}', 7, 'E_BAD_REQUEST', 'params'],
    ['{"id":7,"method":"decide","params":null}', 7, 'E_BAD_REQUEST', 'params'],
  ])('refuses %s with the id it could read and a stable code', (line, id, code, field) => {
    const r = parseRequest(line);
    expect('error' in r).toBe(true);
    if (!('error' in r)) return;
    expect(r.id).toBe(id);
    expect(r.error.code).toBe(code);
    expect(r.error.field).toBe(field);
  });

  it('writes replies as single JSON lines, non-finite numbers as null', () => {
    expect(resultLine(3, { a: NaN, b: Infinity, c: 1 })).toBe('{"id":3,"result":{"a":null,"b":null,"c":1}}\n');
    expect(errorLine('x', new ServiceError('E_BAD_PARAMS', 'm', 'params.slo'))).toBe('{"id":"x","error":{"code":"E_BAD_PARAMS","message":"m","field":"params.slo"}}\n');
    expect(errorLine(null, new ServiceError('E_TOO_LARGE', 'm'))).toBe('{"id":null,"error":{"code":"E_TOO_LARGE","message":"m"}}\n');
  });
});

type Mutable = Record<string, unknown>;
function params(mutate: (p: { snapshot: Mutable & { devices: Mutable[] }; slo: Mutable }) => void = () => undefined): Record<string, unknown> {
  const p = structuredClone(decideRequest(1)['params']) as { snapshot: Mutable & { devices: Mutable[] }; slo: Mutable };
  mutate(p);
  return p;
}

function fieldOf(p: Record<string, unknown>): string | undefined {
  try {
    parseDecideParams(p, 0.01);
  } catch (e) {
    expect(e).toBeInstanceOf(ServiceError);
    expect((e as ServiceError).code).toBe('E_BAD_PARAMS');
    return (e as ServiceError).field;
  }
  return undefined;
}

describe('parseDecideParams', () => {
  it('reads states and flags given as names or as kernel numbers alike', () => {
    const byName = parseDecideParams(params((p) => Object.assign(p.snapshot.devices[0]!, { state: 'PRE_COPY_P2P', flags: 'STOP_COPY|P2P|PRE_COPY' })), 0.01);
    const byNumber = parseDecideParams(params((p) => Object.assign(p.snapshot.devices[0]!, { state: 7, flags: 7 })), 0.01);
    expect(byName).toEqual(byNumber);
    expect(byName.snapshot.devices[0]).toMatchObject({ state: MigState.PRE_COPY_P2P, flags: MigFlags.STOP_COPY | MigFlags.P2P | MigFlags.PRE_COPY });
  });

  it('defaults alpha to the server value and a missing or null budget to none', () => {
    const a = parseDecideParams(params((p) => {
      delete p.slo['alpha'];
      p.slo['budgetMs'] = null;
    }), 0.05);
    expect(a.slo).toEqual({ deadlineMs: 2000, alpha: 0.05, budgetMs: Infinity });
  });

  it('reads the switchover-ack state and a guest timeout, and leaves both out when absent', () => {
    const given = parseDecideParams(params((p) => {
      p.snapshot['switchoverAck'] = 'pending';
      p.slo['guestTimeoutMs'] = 150;
    }), 0.01);
    expect(given.snapshot.switchoverAck).toBe('pending');
    expect(given.slo.guestTimeoutMs).toBe(150);
    const absent = parseDecideParams(params(() => undefined), 0.01);
    expect('switchoverAck' in absent.snapshot).toBe(false);
    expect('guestTimeoutMs' in absent.slo).toBe(false);
  });

  it("reads QEMU's pass starts, which decide() checks for a plateau", () => {
    const given = parseDecideParams(params((p) => (p.snapshot['ramPassStartBytes'] = [3, 2, 1])), 0.01);
    expect(given.snapshot.ramPassStartBytes).toEqual([3, 2, 1]);
    expect('ramPassStartBytes' in parseDecideParams(params(() => undefined), 0.01).snapshot).toBe(false);
  });

  it("reads the snapshot's stack: QEMU version, multifd channels, device state over multifd", () => {
    const given = parseDecideParams(params((p) => Object.assign(p.snapshot, { qemuVersion: '8.1.0', multifdChannels: 8, deviceStateMultifd: true })), 0.01);
    expect(given.snapshot).toMatchObject({ qemuVersion: '8.1.0', multifdChannels: 8, deviceStateMultifd: true });
    const absent = parseDecideParams(params(() => undefined), 0.01).snapshot;
    expect(['qemuVersion', 'multifdChannels', 'deviceStateMultifd'].filter((k) => k in absent)).toEqual([]);
  });

  it("reads a device's PRE_COPY re-init, which makes a received switchover-ack count as pending", () => {
    const given = parseDecideParams(params((p) => (p.snapshot.devices[0]!['reinit'] = true)), 0.01);
    expect(given.snapshot.devices[0]?.reinit).toBe(true);
    expect('reinit' in (parseDecideParams(params(() => undefined), 0.01).snapshot.devices[0] ?? {})).toBe(false);
  });

  it('takes a null stopCopyBytes as a failed size query', () => {
    expect(parseDecideParams(params((p) => (p.snapshot.devices[0]!['stopCopyBytes'] = null)), 0.01).snapshot.devices[0]?.stopCopyBytes).toBeNull();
  });

  it.each<[string, (p: { snapshot: Mutable & { devices: Mutable[] }; slo: Mutable }) => void]>([
    ['params.snapshot', (p) => ((p as Mutable)['snapshot'] = 3)],
    ['params.snapshot.devices', (p) => (p.snapshot['devices'] = {} as unknown as Mutable[])],
    ['params.snapshot.devices', (p) => (p.snapshot['devices'] = Array.from({ length: 1025 }, () => ({})))],
    ['params.snapshot.devices[0]', (p) => (p.snapshot.devices[0] = 'dev' as unknown as Mutable)],
    ['params.snapshot.devices[0].id', (p) => (p.snapshot.devices[0]!['id'] = '')],
    ['params.snapshot.devices[0].model', (p) => delete p.snapshot.devices[0]!['model']],
    ['params.snapshot.devices[0].state', (p) => (p.snapshot.devices[0]!['state'] = 'SLEEPING')],
    ['params.snapshot.devices[0].state', (p) => (p.snapshot.devices[0]!['state'] = 8)],
    ['params.snapshot.devices[0].state', (p) => (p.snapshot.devices[0]!['state'] = 'constructor')],
    ['params.snapshot.devices[0].flags', (p) => (p.snapshot.devices[0]!['flags'] = 'P2P|TURBO')],
    ['params.snapshot.devices[0].flags', (p) => (p.snapshot.devices[0]!['flags'] = 1.5)],
    ['params.snapshot.devices[0].stopCopyBytes', (p) => (p.snapshot.devices[0]!['stopCopyBytes'] = -1)],
    ['params.snapshot.devices[0].stopCopyBytes', (p) => (p.snapshot.devices[0]!['stopCopyBytes'] = 1.5)],
    ['params.snapshot.devices[0].initialBytes', (p) => (p.snapshot.devices[0]!['initialBytes'] = '0')],
    ['params.snapshot.ramRemainingBytes', (p) => (p.snapshot['ramRemainingBytes'] = -5)],
    ['params.snapshot.ramDirtyBytesPerS', (p) => delete p.snapshot['ramDirtyBytesPerS']],
    ['params.snapshot.precopyBandwidthBytesPerS', (p) => (p.snapshot['precopyBandwidthBytesPerS'] = '1e9')],
    ['params.snapshot.elapsedMs', (p) => (p.snapshot['elapsedMs'] = null)],
    ['params.snapshot.link', (p) => (p.snapshot['link'] = 42)],
    ['params.snapshot.serial', (p) => (p.snapshot['serial'] = 'yes')],
    ['params.slo', (p) => delete (p as Mutable)['slo']],
    ['params.slo.deadlineMs', (p) => (p.slo['deadlineMs'] = 0)],
    ['params.slo.alpha', (p) => (p.slo['alpha'] = 1)],
    ['params.slo.budgetMs', (p) => (p.slo['budgetMs'] = -1)],
    ['params.snapshot.switchoverAck', (p) => (p.snapshot['switchoverAck'] = 'acked')],
    ['params.snapshot.ramPassStartBytes', (p) => (p.snapshot['ramPassStartBytes'] = 5)],
    ['params.snapshot.qemuVersion', (p) => (p.snapshot['qemuVersion'] = '10')],
    ['params.snapshot.multifdChannels', (p) => (p.snapshot['multifdChannels'] = 0)],
    ['params.snapshot.deviceStateMultifd', (p) => (p.snapshot['deviceStateMultifd'] = 'auto')],
    ['params.snapshot.devices[0].reinit', (p) => (p.snapshot.devices[0]!['reinit'] = 1)],
    ['params.snapshot.ramPassStartBytes[1]', (p) => (p.snapshot['ramPassStartBytes'] = [5, -1])],
    ['params.slo.guestTimeoutMs', (p) => (p.slo['guestTimeoutMs'] = 0)],
  ])('names %s when it is wrong', (field, mutate) => {
    expect(fieldOf(params(mutate))).toBe(field);
  });
});
