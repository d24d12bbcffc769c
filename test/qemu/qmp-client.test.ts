import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { firstValueFrom, filter, take, toArray } from 'rxjs';
import { QmpClosedError, QmpCommandError, QmpTimeoutError } from '../../src/qemu/qmp-errors.js';
import { eventLine } from './fake-qmp-server.js';
import { useFakeQmp } from './fake-qmp-fixture.js';

const { setup, connect } = useFakeQmp();

describe('QmpClient handshake', () => {
  it('reads the greeting and negotiates capabilities without oob by default', async () => {
    const { srv, qmp } = await setup();
    expect(qmp.state).toBe('ready');
    expect(qmp.qemuVersion).toBe('7.2.0');
    expect(qmp.greeting?.capabilities).toEqual(['oob']);
    const neg = await srv.waitForCommand('qmp_capabilities');
    expect(neg.arguments).toBeUndefined();
    expect(qmp.oobEnabled).toBe(false);
  });

  it('speaks QMP over TCP on 127.0.0.1 as well', async () => {
    const { srv, qmp } = await setup({ tcp: true });
    expect(qmp.endpoint).toBe(`tcp:127.0.0.1:${(srv.endpoint as { port: number }).port}`);
    await expect(qmp.queryStatus()).resolves.toMatchObject({ running: true });
  });

  it('enables oob when asked and offered', async () => {
    const { srv, qmp } = await setup({ capabilities: ['oob'] }, { oob: true });
    expect((await srv.waitForCommand('qmp_capabilities')).arguments).toEqual({ enable: ['oob'] });
    expect(qmp.oobEnabled).toBe(true);
  });

  it('does not ask for oob when the server does not offer it', async () => {
    const { srv, qmp } = await setup({ capabilities: [] }, { oob: true });
    expect((await srv.waitForCommand('qmp_capabilities')).arguments).toBeUndefined();
    expect(qmp.oobEnabled).toBe(false);
  });

  it('sends exec-oob only when oob was negotiated', async () => {
    const { srv, qmp } = await setup({}, { oob: true });
    srv.on('migrate-pause', () => ({ return: {} }));
    await qmp.execute('migrate-pause', undefined, { oob: true });
    const cmd = await srv.waitForCommand('migrate-pause');
    expect(cmd.oob).toBe(true);

    const plain = await connect();
    await expect(plain.execute('migrate-pause', undefined, { oob: true })).rejects.toMatchObject({ code: 'ENOTSUP' });
  });
});

describe('QmpClient commands', () => {
  it('tags every command with a distinct id and matches replies answered out of order', async () => {
    const { srv, qmp } = await setup();
    const later: Array<() => void> = [];
    srv.on('echo', (cmd, ctx) => {
      later.push(() => ctx.reply({ return: cmd.arguments?.['v'] }));
      if (later.length === 3) for (const f of later.reverse()) f();
      return { noReply: true };
    });
    const results = await Promise.all([1, 2, 3].map((v) => qmp.execute('echo', { v })));
    expect(results).toEqual([1, 2, 3]);
    const ids = srv.received.filter((c) => c.execute === 'echo').map((c) => c.id);
    expect(new Set(ids).size).toBe(3);
    expect(ids.every((id) => typeof id === 'string')).toBe(true);
  });

  it('surfaces a QEMU error as QmpCommandError with its class and desc', async () => {
    const { srv, qmp } = await setup();
    srv.on('migrate', () => ({ error: { class: 'GenericError', desc: 'There is already a migration in progress' } }));
    const err: unknown = await qmp.migrate('tcp:127.0.0.1:1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QmpCommandError);
    expect(err).toMatchObject({
      code: 'E_QMP_COMMAND',
      command: 'migrate',
      errorClass: 'GenericError',
      desc: 'There is already a migration in progress',
    });
  });

  it('reports an unknown command with QEMU class CommandNotFound', async () => {
    const { qmp } = await setup();
    await expect(qmp.execute('no-such-command')).rejects.toMatchObject({ errorClass: 'CommandNotFound' });
  });

  it('fails a command that gets no reply with QmpTimeoutError and keeps working after a late reply', async () => {
    const { srv, qmp } = await setup();
    let answerLate: (() => void) | undefined;
    srv.on('slow', (_c, ctx) => {
      answerLate = () => ctx.reply({ return: 'late' });
      return { noReply: true };
    });
    srv.on('fast', () => ({ return: 'ok' }));
    const err: unknown = await qmp.execute('slow', undefined, { timeoutMs: 50 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QmpTimeoutError);
    expect(err).toMatchObject({ code: 'ETIMEDOUT', command: 'slow', timeoutMs: 50 });
    answerLate?.();
    await expect(qmp.execute('fast')).resolves.toBe('ok');
    expect(qmp.state).toBe('ready');
  });

  it('gives an id-less error reply to the oldest command in flight', async () => {
    const { srv, qmp } = await setup();
    srv.on('bad', (_c, ctx) => {
      ctx.write('{"error": {"class": "GenericError", "desc": "JSON parse error, invalid keyword"}}\r\n');
      return { noReply: true };
    });
    await expect(qmp.execute('bad')).rejects.toMatchObject({ errorClass: 'GenericError', command: 'bad' });
  });
});

describe('QmpClient framing and events', () => {
  it('delivers events interleaved with replies in one write, in order, without disturbing the reply', async () => {
    const { srv, qmp } = await setup();
    srv.on('query-migrate', (cmd, ctx) => {
      ctx.write(
        eventLine('MIGRATION', { status: 'active' }, 1_700_000_001.5) +
          `{"return": {"status": "active"}, "id": ${JSON.stringify(cmd.id)}}\r\n` +
          eventLine('MIGRATION_PASS', { pass: 2 }, 1_700_000_002),
      );
      return { noReply: true };
    });
    const events = firstValueFrom(qmp.events$.pipe(take(2), toArray()));
    await expect(qmp.queryMigrate()).resolves.toEqual({ status: 'active' });
    const got = await events;
    expect(got.map((e) => [e.event, e.data])).toEqual([
      ['MIGRATION', { status: 'active' }],
      ['MIGRATION_PASS', { pass: 2 }],
    ]);
    expect(got[0]?.timestamp).toEqual({ seconds: 1_700_000_001, microseconds: 500_000 });
    expect(typeof got[0]?.receivedAtMs).toBe('number');
  });

  it('reassembles a reply split across writes, even inside a multi-byte character', async () => {
    const { srv, qmp } = await setup();
    let cuts: number[] = [];
    const reads: number[] = [];
    srv.on('query-name', (cmd, ctx) => {
      const bytes = Buffer.from(`{"return": {"name": "vm→dst ✓"}, "id": ${JSON.stringify(cmd.id)}}\r\n`, 'utf8');
      const arrow = bytes.indexOf(Buffer.from('→', 'utf8'));
      cuts = [5, arrow + 1, arrow + 2, bytes.length - 1, bytes.length];
      // Each piece goes out only once the client has read the one before from its socket, so
      // every piece is its own read however loaded the machine is (no timer gaps to rely on).
      const client = (qmp as unknown as { socket: Socket }).socket;
      const start = client.bytesRead;
      void (async () => {
        let from = 0;
        for (const to of cuts) {
          ctx.write(bytes.subarray(from, to));
          while (client.bytesRead - start < to) await new Promise((r) => setImmediate(r));
          reads.push(client.bytesRead - start);
          from = to;
        }
      })();
      return { noReply: true };
    });
    await expect(qmp.execute('query-name')).resolves.toEqual({ name: 'vm→dst ✓' });
    // Every piece but the last was read on its own (the last one settles the command).
    expect(reads).toEqual(cuts.slice(0, 4));
  });

  it('drops the connection on a line that is not JSON and fails what was in flight', async () => {
    const { srv, qmp } = await setup();
    srv.on('garbage', (_c, ctx) => {
      ctx.write('this is not qmp\r\n');
      return { noReply: true };
    });
    const err: unknown = await qmp.execute('garbage').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QmpClosedError);
    expect((err as QmpClosedError).cause).toMatchObject({ code: 'EPROTO' });
    await expect(firstValueFrom(qmp.state$.pipe(filter((s) => s === 'disconnected')))).resolves.toBe('disconnected');
  });
});

describe('QmpClient wire tap', () => {
  it('shows every line sent and received, replies tagged with the command they answer', async () => {
    const { srv, qmp } = await setup();
    srv.on('query-migrate', () => ({ return: {} }));
    const lines = firstValueFrom(qmp.wire$.pipe(take(3), toArray()));
    srv.event('STOP');
    await firstValueFrom(qmp.events$);
    await qmp.queryMigrate();
    const got = await lines;
    expect(got.map((w) => [w.direction, w.kind, w.command])).toEqual([
      ['in', 'event', undefined],
      ['out', 'command', 'query-migrate'],
      ['in', 'return', 'query-migrate'],
    ]);
    expect(got[1]?.line).toMatch(/^\{"execute":"query-migrate","id":"c\d+"\}$/);
    expect(got.every((w) => typeof w.atMs === 'number' && w.atMs > 1.6e12)).toBe(true);
  });
});

describe('QmpClient close', () => {
  it('fails commands in flight with QmpClosedError when the peer closes abruptly', async () => {
    const { srv, qmp } = await setup();
    srv.on('hang', () => {
      setTimeout(() => srv.dropConnection(), 20);
      return { noReply: true };
    });
    const err: unknown = await qmp.execute('hang').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QmpClosedError);
    expect(err).toMatchObject({ code: 'ECONNRESET', command: 'hang' });
    expect(qmp.state).toBe('disconnected');
    await expect(qmp.queryStatus()).rejects.toBeInstanceOf(QmpClosedError);
  });

  it('close() fails pending commands, completes the streams and is final', async () => {
    const { srv, qmp } = await setup();
    srv.on('hang', () => ({ noReply: true }));
    const pending = qmp.execute('hang').catch((e: unknown) => e);
    const eventsDone = firstValueFrom(qmp.events$.pipe(toArray()));
    await qmp.close();
    expect(await pending).toBeInstanceOf(QmpClosedError);
    await expect(eventsDone).resolves.toEqual([]);
    expect(qmp.state).toBe('closed');
    await expect(qmp.execute('query-status')).rejects.toBeInstanceOf(QmpClosedError);
    await expect(qmp.connect()).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});
