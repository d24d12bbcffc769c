import { describe, expect, it } from 'vitest';
import type { QmpClient } from '../../src/qemu/qmp-client.js';
import { QmpCommandError, QmpUnsupportedError } from '../../src/qemu/qmp-errors.js';
import { useFakeQmp } from './fake-qmp-fixture.js';

const { setup } = useFakeQmp();

describe('QmpClient migration helpers', () => {
  it('migrateSetCapabilities sends QEMU\'s capability list and queryMigrateCapabilities reads it back as a record', async () => {
    const { srv, qmp } = await setup();
    srv.on('migrate-set-capabilities', () => ({ return: {} }));
    srv.on('query-migrate-capabilities', () => ({
      return: [
        { capability: 'xbzrle', state: false },
        { capability: 'events', state: true },
        { capability: 'auto-converge', state: true },
      ],
    }));
    await qmp.migrateSetCapabilities({ events: true, 'auto-converge': false });
    expect((await srv.waitForCommand('migrate-set-capabilities')).arguments).toEqual({
      capabilities: [
        { capability: 'events', state: true },
        { capability: 'auto-converge', state: false },
      ],
    });
    await expect(qmp.queryMigrateCapabilities()).resolves.toEqual({ xbzrle: false, events: true, 'auto-converge': true });
  });

  it.each([
    ['migrateSetParameters', (q: QmpClient) => q.migrateSetParameters({ 'downtime-limit': 500, 'max-bandwidth': 1e9 }), 'migrate-set-parameters', { 'downtime-limit': 500, 'max-bandwidth': 1e9 }],
    ['migrate', (q: QmpClient) => q.migrate('tcp:127.0.0.1:4444'), 'migrate', { uri: 'tcp:127.0.0.1:4444' }],
    ['migrate resume', (q: QmpClient) => q.migrate('tcp:127.0.0.1:4444', { resume: true }), 'migrate', { uri: 'tcp:127.0.0.1:4444', resume: true }],
    ['migrateIncoming', (q: QmpClient) => q.migrateIncoming('tcp:127.0.0.1:0'), 'migrate-incoming', { uri: 'tcp:127.0.0.1:0' }],
    ['migrateCancel', (q: QmpClient) => q.migrateCancel(), 'migrate_cancel', undefined],
    ['cancelVcpuDirtyLimit', (q: QmpClient) => q.cancelVcpuDirtyLimit({ cpuIndex: 0 }), 'cancel-vcpu-dirty-limit', { 'cpu-index': 0 }],
    ['quit', (q: QmpClient) => q.quit(), 'quit', undefined],
    ['stop', (q: QmpClient) => q.stop(), 'stop', undefined],
    ['cont', (q: QmpClient) => q.cont(), 'cont', undefined],
  ] as const)('%s sends the QMP command QEMU expects', async (_name, call, command, args) => {
    const { srv, qmp } = await setup();
    srv.on(command, () => ({ return: {} }));
    await call(qmp);
    expect((await srv.waitForCommand(command)).arguments).toEqual(args);
  });

  it('queryMigrate and queryMigrateParameters return QEMU\'s objects', async () => {
    const { srv, qmp } = await setup();
    const info = { status: 'completed', downtime: 42, ram: { transferred: 123, remaining: 0, total: 456 } };
    srv.on('query-migrate', () => ({ return: info }));
    srv.on('query-migrate-parameters', () => ({ return: { 'downtime-limit': 300, 'max-bandwidth': 134217728 } }));
    await expect(qmp.queryMigrate()).resolves.toEqual(info);
    await expect(qmp.queryMigrateParameters()).resolves.toMatchObject({ 'downtime-limit': 300 });
  });

  it('rejects a query-migrate that is not an object as a protocol error', async () => {
    const { srv, qmp } = await setup();
    srv.on('query-migrate', () => ({ return: [] }));
    await expect(qmp.queryMigrate()).rejects.toMatchObject({ code: 'EPROTO' });
  });

  it('queryStatus returns running and the run state', async () => {
    const { qmp } = await setup();
    await expect(qmp.queryStatus()).resolves.toMatchObject({ running: true, status: 'running' });
  });

  it('setVcpuDirtyLimit is refused with QmpUnsupportedError when query-commands lacks it', async () => {
    const { srv, qmp } = await setup({ commands: ['qmp_capabilities', 'query-commands'] });
    const err: unknown = await qmp.setVcpuDirtyLimit(10).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QmpUnsupportedError);
    expect(err).toMatchObject({ code: 'ENOTSUP', command: 'set-vcpu-dirty-limit', qemuVersion: '7.2.0' });
    expect(srv.received.some((c) => c.execute === 'set-vcpu-dirty-limit')).toBe(false);
  });

  it('setVcpuDirtyLimit sends dirty-rate in MB/s and cpu-index; queryVcpuDirtyLimit reads the limits', async () => {
    const { srv, qmp } = await setup();
    srv.on('set-vcpu-dirty-limit', () => ({ return: {} }));
    srv.on('query-vcpu-dirty-limit', () => ({ return: [{ 'cpu-index': 1, 'limit-rate': 10, 'current-rate': 3 }] }));
    await qmp.setVcpuDirtyLimit(10, { cpuIndex: 1 });
    expect((await srv.waitForCommand('set-vcpu-dirty-limit')).arguments).toEqual({ 'dirty-rate': 10, 'cpu-index': 1 });
    await expect(qmp.queryVcpuDirtyLimit()).resolves.toEqual([{ 'cpu-index': 1, 'limit-rate': 10, 'current-rate': 3 }]);
  });

  it('passes on QEMU\'s refusal of a dirty limit (TCG, no dirty ring) as QmpCommandError', async () => {
    const { srv, qmp } = await setup();
    srv.on('set-vcpu-dirty-limit', () => ({
      error: { class: 'GenericError', desc: "dirty page limit feature requires KVM with accelerator property 'dirty-ring-size' set'" },
    }));
    const err: unknown = await qmp.setVcpuDirtyLimit(10).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QmpCommandError);
  });

  it('asks query-commands once per connection and again after a reconnect', async () => {
    const { srv, qmp } = await setup();
    await Promise.all([qmp.hasCommand('stop'), qmp.hasCommand('cont'), qmp.commands()]);
    expect(srv.received.filter((c) => c.execute === 'query-commands')).toHaveLength(1);
    await qmp.reconnect();
    await qmp.hasCommand('stop');
    expect(srv.received.filter((c) => c.execute === 'query-commands').map((c) => c.connection)).toEqual([1, 2]);
  });
});
