import { describe, expect, it } from 'vitest';
import { firstValueFrom, filter, take, toArray } from 'rxjs';
import { QmpClient } from '../../src/qemu/qmp-client.js';
import { QmpClosedError, QmpConnectError } from '../../src/qemu/qmp-errors.js';
import { useFakeQmp } from './fake-qmp-fixture.js';

const { start, connect, setup } = useFakeQmp();

const fastRetry = { maxAttempts: 200, initialDelayMs: 5, maxDelayMs: 50 };

describe('QmpClient reconnect', () => {
  it('reconnect() negotiates a new session and the event stream carries on', async () => {
    const { srv, qmp } = await setup();
    const events = firstValueFrom(qmp.events$.pipe(take(2), toArray()));
    srv.event('STOP');
    await firstValueFrom(qmp.events$.pipe(filter((e) => e.event === 'STOP')));

    await qmp.reconnect();
    expect(qmp.state).toBe('ready');
    expect(srv.connections).toBe(2);
    await srv.waitForCommand('qmp_capabilities', 2);
    srv.event('RESUME');
    expect((await events).map((e) => e.event)).toEqual(['STOP', 'RESUME']);
    await expect(qmp.queryStatus()).resolves.toMatchObject({ running: true, status: 'running' });
  });

  it('reconnect() fails the commands in flight on the old socket', async () => {
    const { srv, qmp } = await setup();
    srv.on('hang', () => ({ noReply: true }));
    const pending = qmp.execute('hang').catch((e: unknown) => e);
    await srv.waitForCommand('hang');
    await qmp.reconnect();
    expect(await pending).toBeInstanceOf(QmpClosedError);
  });

  it('with autoReconnect, a command issued while QEMU is away waits and then succeeds', async () => {
    const { srv, qmp } = await setup({}, { autoReconnect: fastRetry });
    await srv.stopListening(); // drops the connection and removes the socket
    await firstValueFrom(qmp.state$.pipe(filter((s) => s === 'connecting')));
    const status = qmp.queryStatus();
    setTimeout(() => void srv.listen(), 100);
    await expect(status).resolves.toMatchObject({ running: true });
    expect(qmp.state).toBe('ready');
    expect(srv.connections).toBe(2);
  });

  it('with autoReconnect, queued commands fail with QmpClosedError once the attempts run out', async () => {
    const { srv, qmp } = await setup({}, { autoReconnect: { maxAttempts: 3, initialDelayMs: 5, maxDelayMs: 10 } });
    await srv.stopListening();
    await firstValueFrom(qmp.state$.pipe(filter((s) => s === 'connecting')));
    const err: unknown = await qmp.queryStatus().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QmpClosedError);
    expect(qmp.state).toBe('disconnected');
  });

  it('connect() retries with backoff and reports the attempts when nobody listens', async () => {
    const srv = await start();
    await srv.stopListening();
    const err: unknown = await connect({ connectRetry: { maxAttempts: 3, initialDelayMs: 5, maxDelayMs: 10 } }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(QmpConnectError);
    expect(err).toMatchObject({ code: 'ECONNREFUSED', attempts: 3 });
  });

  it('connect() succeeds once a late QEMU creates its socket', async () => {
    const srv = await start();
    await srv.stopListening();
    setTimeout(() => void srv.listen(), 100);
    const qmp = await connect({ connectRetry: fastRetry });
    expect(qmp.state).toBe('ready');
  });

  it('connect() gives up on a peer that never greets, after connectTimeoutMs', async () => {
    await start({ silent: true });
    const err: unknown = await connect({ connectTimeoutMs: 100 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QmpConnectError);
    expect((err as Error).message).toContain('no QMP handshake within 100 ms');
  });

  it('close() during a reconnect backoff stops the attempts', async () => {
    const srv = await start();
    const qmp = await QmpClient.connect({
      endpoint: { path: srv.path },
      autoReconnect: { maxAttempts: 1000, initialDelayMs: 50, maxDelayMs: 50 },
    });
    await srv.stopListening();
    await firstValueFrom(qmp.state$.pipe(filter((s) => s === 'connecting')));
    const queued = qmp.queryStatus().catch((e: unknown) => e);
    await qmp.close();
    expect(await queued).toBeInstanceOf(QmpClosedError);
    expect(qmp.state).toBe('closed');
  });
});
