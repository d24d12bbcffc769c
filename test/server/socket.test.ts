import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, writeFileSync, linkSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { ServiceError } from '../../src/server/errors.js';
import { loadPeerCredReader, type PeerCredReader } from '../../src/server/peer-cred.js';
import { clearStaleSocket } from '../../src/server/socket-file.js';
import type { RunningService } from '../../src/server/start.js';
import { captureIo } from '../cli/io.js';
import { skipWithout } from '../helpers/ci.js';
import { arc } from '../store/fixtures.js';
import { clientProcess, decideRequest, LineClient, startTestService, tempDir, waitUntil, type TempDir } from './helpers.js';

let tmp: TempDir;
let running: RunningService | undefined;
const clients: LineClient[] = [];

beforeEach(() => {
  tmp = tempDir();
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await running?.close();
  running = undefined;
  tmp.cleanup();
});

/** The global limit alone: this process may take every slot (per-peer shares: peer-shares.test.ts). */
function oneClientMayFill(max: number): { maxConnections: number; maxConnectionsPerUid: number; maxConnectionsPerPid: number } {
  return { maxConnections: max, maxConnectionsPerUid: max, maxConnectionsPerPid: max };
}

async function client(): Promise<LineClient> {
  const c = await LineClient.connect(tmp.socket);
  clients.push(c);
  return c;
}

async function startError(): Promise<ServiceError> {
  try {
    const second = await startTestService(tmp, { dbPath: null });
    await second.close();
  } catch (e) {
    return e as ServiceError;
  }
  throw new Error('the second server started');
}

describe('the socket file', () => {
  it('is created with mode 0600, or 0660 and the named group', async () => {
    running = await startTestService(tmp);
    expect(lstatSync(tmp.socket).mode & 0o777).toBe(0o600);
    expect(running.server.socket.mode).toBe(0o600);
    await running.close();
    expect(existsSync(tmp.socket)).toBe(false);
    const gid = process.getgroups?.().at(-1) ?? process.getgid?.() ?? 0;
    running = await startTestService(tmp, { gid });
    const st = lstatSync(tmp.socket);
    expect([st.mode & 0o777, st.gid]).toEqual([0o660, gid]);
  });

  it('refuses to start while a live server answers on the path, and leaves that one serving', async () => {
    running = await startTestService(tmp);
    const e = await startError();
    expect([e.code, e.message]).toEqual(['E_SOCKET_IN_USE', `a server is already answering on ${tmp.socket}`]);
    expect(await (await client()).request({ id: 1, method: 'health' })).toMatchObject({ result: { status: 'ok' } });
  });

  it('replaces a stale socket nobody answers on', async () => {
    // A socket file whose server is gone: bind elsewhere, link it to the path, close.
    const other = createServer();
    const elsewhere = join(tmp.dir, 'old.sock');
    await new Promise<void>((r) => other.listen(elsewhere, r));
    linkSync(elsewhere, tmp.socket);
    await new Promise<void>((r) => other.close(() => r()));
    expect(lstatSync(tmp.socket).isSocket()).toBe(true);
    running = await startTestService(tmp);
    expect(await (await client()).request({ id: 1, method: 'health' })).toMatchObject({ result: { socket: tmp.socket } });
  });

  it('leaves a path that is not a socket alone', async () => {
    writeFileSync(tmp.socket, 'precious');
    const e = await startError();
    expect(e.code).toBe('E_SOCKET_PATH');
    expect(readFileSync(tmp.socket, 'utf8')).toBe('precious');
  });
});

describe('hostile and slow clients', () => {
  it('answers a line over 1 MiB with E_TOO_LARGE and serves the next line on the same connection', async () => {
    running = await startTestService(tmp);
    const c = await client();
    const big = `{"id":1,"method":"health","pad":"${'x'.repeat(1024 * 1024)}"}\n`;
    c.send(big.slice(0, 300_000));
    c.send(big.slice(300_000));
    expect(await c.next()).toMatchObject({ id: null, error: { code: 'E_TOO_LARGE' } });
    expect(await c.request({ id: 2, method: 'health' })).toMatchObject({ id: 2, result: { status: 'ok' } });
  });

  it('closes connections beyond the maximum with E_TOO_MANY_CONNECTIONS and takes new ones when there is room', async () => {
    running = await startTestService(tmp, { ...oneClientMayFill(2), minEvictableIdleMs: 3_600_000 });
    const a = await client();
    const b = await client();
    expect(await a.request({ id: 1, method: 'health' })).toMatchObject({ result: { connections: 2 } });
    const reserved = await client(); // the reserved slot: health only
    expect(await reserved.request({ id: 9, method: 'model' })).toMatchObject({ id: null, error: { code: 'E_TOO_MANY_CONNECTIONS' } });
    const c = await client();
    expect(await c.next()).toMatchObject({ id: null, error: { code: 'E_TOO_MANY_CONNECTIONS' } });
    expect(await c.nextLine()).toBeNull();
    reserved.close();
    b.close();
    await waitUntil(() => running!.server.connectionCount === 1);
    expect(await (await client()).request({ id: 2, method: 'health' })).toMatchObject({ result: { connections: 2 } });
  });

  it('serves others while one client sits on half a line, then answers that line when it completes', async () => {
    running = await startTestService(tmp);
    const stalled = await client();
    stalled.send('{"id":"slow","method":"he');
    const other = await client();
    expect(await other.request(decideRequest(1))).toMatchObject({ id: 1, result: { action: expect.any(String) } });
    stalled.send('alth"}\n');
    expect(await stalled.next()).toMatchObject({ id: 'slow', result: { status: 'ok' } });
  });

  it('stops reading from a client that does not read its replies, serves the others, and loses no reply', async () => {
    running = await startTestService(tmp);
    const n = 2000;
    const flooder: Socket = connect(tmp.socket);
    await new Promise<void>((r) => flooder.once('connect', () => r()));
    flooder.pause();
    // Big replies (model) to fill the socket, and a record each so the server's progress shows.
    // Padded to 4 KiB a pair, 8 MB in all: far more than socket buffers hold.
    const model = JSON.stringify({ id: 'm', method: 'model', pad: 'x'.repeat(4096) });
    const pair = `${model}\n${JSON.stringify({ id: 'r', method: 'record', params: arc() })}\n`;
    flooder.write(pair.repeat(n));
    const other = await client();
    const health = async (): Promise<Record<string, unknown>> => (await other.request({ id: 'h', method: 'health' })).result ?? {};
    await waitUntil(async () => (await health())['blockedConnections'] === 1);
    expect(await other.request(decideRequest(2))).toMatchObject({ id: 2, result: { action: expect.any(String) } });
    const whileBlocked = await health();
    expect((whileBlocked['records'] as { accepted: number }).accepted).toBeLessThan(n / 2);
    // Not read, so not held: at most a chunk or two past the last line served.
    expect(whileBlocked['bufferedRequestBytes']).toBeLessThan(256 * 1024);
    let text = '';
    flooder.setEncoding('utf8');
    flooder.on('data', (s: string) => (text += s));
    flooder.resume();
    await waitUntil(() => text.split('\n').length - 1 === 2 * n);
    flooder.destroy();
    const replies = text.split('\n').slice(0, 2 * n).map((l) => JSON.parse(l) as { id: string; result?: { name?: string; accepted?: number } });
    expect(replies.filter((r) => r.id === 'm' && r.result?.name === 'sim-truth-calibrated')).toHaveLength(n);
    expect(replies.filter((r) => r.id === 'r' && r.result?.accepted === 1)).toHaveLength(n);
    expect(((await health())['records'] as { accepted: number }).accepted).toBe(n);
  });

  it('takes turns: a client pipelining many requests does not hold back the request of another', async () => {
    running = await startTestService(tmp);
    const pipeliner = await client();
    const other = await client();
    const n = 200; // ~46 KB: one read of the socket
    pipeliner.send(`${JSON.stringify({ id: 'r', method: 'record', params: arc() })}\n`.repeat(n));
    const h = await other.request({ id: 'h', method: 'health' });
    expect((h.result?.['records'] as { accepted: number }).accepted).toBeLessThan(n);
    for (let i = 0; i < n; i++) expect(await pipeliner.next()).toMatchObject({ id: 'r', result: { accepted: 1 } });
  });

  it('serves an unterminated last line at end of stream, ignores blank lines and accepts CRLF', async () => {
    running = await startTestService(tmp);
    const c = await client();
    c.send('\n  \r\n{"id":1,"method":"health"}\r\n{"id":2,"method":"health"}');
    c.socket.end();
    expect(await c.next()).toMatchObject({ id: 1 });
    expect(await c.next()).toMatchObject({ id: 2 });
    expect(await c.nextLine()).toBeNull();
  });

  it('drains on close without waiting for idle clients, and removes the socket file', async () => {
    running = await startTestService(tmp, { drainTimeoutMs: 60_000 });
    const idle = await client();
    await idle.request({ id: 1, method: 'health' });
    await running.close();
    expect(await idle.nextLine()).toBeNull();
    expect(existsSync(tmp.socket)).toBe(false);
  });
});

// Issue 18, items 3 and 6: 64 held-open connections locked every client out, health included;
// socket paths over 107 bytes were "listening" where no client could connect.
describe('a service no idle client can lock', () => {
  it('closes a connection that sends nothing for the idle timeout, saying why', async () => {
    running = await startTestService(tmp, { idleTimeoutMs: 100 });
    const idle = await client();
    expect(await idle.next()).toMatchObject({ id: null, error: { code: 'E_IDLE' } });
    expect(await idle.nextLine()).toBeNull();
  });

  it('closes a client that trickles a request line byte by byte past the line timeout', async () => {
    running = await startTestService(tmp, { lineTimeoutMs: 150 });
    const slow = await client();
    const line = JSON.stringify({ id: 1, method: 'health' });
    let i = 0;
    const trickle = setInterval(() => i < line.length && slow.send(line[i++]!), 20);
    try {
      expect(await slow.next()).toMatchObject({ id: null, error: { code: 'E_TIMEOUT' } });
      expect(await slow.nextLine()).toBeNull();
    } finally {
      clearInterval(trickle);
    }
  });

  it('when every slot is held by idle connections, a newcomer is served and the longest idle is closed', async () => {
    running = await startTestService(tmp, { ...oneClientMayFill(4), minEvictableIdleMs: 0 });
    const holders = [];
    for (let i = 0; i < 4; i++) holders.push(await client());
    const vmm = await client();
    expect(await vmm.request(decideRequest(1))).toMatchObject({ id: 1, result: { action: expect.any(String) } });
    expect(await holders[0]!.next()).toMatchObject({ id: null, error: { code: 'E_IDLE' } });
    expect(running.server.connectionCount).toBe(4);
  });

  it('when every slot is busy, one reserved connection still answers health (and nothing else)', async () => {
    running = await startTestService(tmp, { ...oneClientMayFill(2) });
    // Busy, not idle: each holds half a request line.
    for (let i = 0; i < 2; i++) (await client()).send('{"id":"half","method":"he');
    const probe = await client();
    expect(await probe.request({ id: 1, method: 'health' })).toMatchObject({ id: 1, result: { status: 'ok', connections: 2 } });
    expect(await probe.request(decideRequest(2))).toMatchObject({ id: null, error: { code: 'E_TOO_MANY_CONNECTIONS' } });
    const another = await client();
    expect(await another.next()).toMatchObject({ id: null, error: { code: 'E_TOO_MANY_CONNECTIONS' } });
  });
});

describe('health', () => {
  it('does not say ok while the store refuses writes', async () => {
    running = await startTestService(tmp, { pipeline: { spillPath: null, batchSize: 1, retryInitialMs: 5, retryMaxMs: 10 } });
    const store = running.store!;
    store.db.pragma(`max_page_count = ${store.db.pragma('page_count', { simple: true }) as number}`);
    const c = await client();
    const records = Array.from({ length: 200 }, (_, i) => arc({ startedAtMs: i + 1, deviceModel: `model-${i}` }));
    expect(await c.request({ id: 1, method: 'record', params: { records } })).toMatchObject({ id: 1 });
    let health = await c.request({ id: 2, method: 'health' });
    for (let i = 0; i < 100 && (health.result as { records: { faulted: boolean } }).records.faulted !== true; i++) {
      await new Promise((r) => setTimeout(r, 20));
      health = await c.request({ id: 3 + i, method: 'health' });
    }
    expect(health.result).toMatchObject({ status: 'store-faulted', records: { faulted: true } });
    store.db.pragma('max_page_count = 1073741823');
  });

  it('stopped while neither the store nor the spill file takes records, it says how many were NOT kept (issue 18 item 7, serve side)', async () => {
    const spillPath = join(tmp.dir, 'spill-here');
    mkdirSync(spillPath); // a directory where the spill file should go
    running = await startTestService(tmp, { flushTimeoutMs: 200, pipeline: { spillPath, batchSize: 1, retryInitialMs: 5, retryMaxMs: 10 } });
    const store = running.store!;
    store.db.pragma(`max_page_count = ${store.db.pragma('page_count', { simple: true }) as number}`);
    const c = await client();
    const records = Array.from({ length: 200 }, (_, i) => arc({ startedAtMs: i + 1, deviceModel: `model-${i}` }));
    expect(await c.request({ id: 1, method: 'record', params: { records } })).toMatchObject({ id: 1, result: { accepted: 200 } });
    const closing = running.close();
    running = undefined;
    const err = (await closing.then(() => undefined, (e: unknown) => e)) as { code?: string; message: string; pendingItems: number } | undefined;
    expect(err?.code).toBe('E_NOT_COMMITTED');
    expect(err?.pendingItems).toBeGreaterThan(0);
    expect(err?.message).toMatch(new RegExp(`^${err?.pendingItems ?? -1} records not committed; ${err?.pendingItems ?? -1} of them NOT kept`));
  });
});

describe('socket paths', () => {
  const longDir = (): string => {
    const dir = join(tmp.dir, 'd'.repeat(60), 'e'.repeat(40));
    mkdirSync(dir, { recursive: true });
    return dir;
  };

  it('serve refuses a socket path over 107 bytes with exit 2, saying the limit', async () => {
    const path = join(longDir(), 'vfio-sla.sock');
    const io = captureIo(tmp.dir);
    expect(await runCli(['serve', '--socket', path, '--no-db'], io)).toBe(2);
    expect(io.err()).toContain(`is ${Buffer.byteLength(path)} bytes; a unix socket path is at most 107 bytes`);
    expect(existsSync(path)).toBe(false);
  });

  it('the library refuses it too, before touching anything at the path', async () => {
    const path = join(longDir(), 'vfio-sla.sock');
    await expect(startTestService(tmp, { socketPath: path, dbPath: null })).rejects.toMatchObject({ code: 'E_SOCKET_PATH' });
    expect(existsSync(path)).toBe(false);
  });

  it('a live server linked at a path over 107 bytes is not taken for a stale socket and removed', async () => {
    const live = createServer();
    await new Promise<void>((r) => live.listen(tmp.socket, r));
    const path = join(longDir(), 'vfio-sla.sock');
    linkSync(tmp.socket, path);
    try {
      await expect(clearStaleSocket(path)).rejects.toMatchObject({ code: 'E_SOCKET_PATH' });
      expect(lstatSync(path).ino).toBe(lstatSync(tmp.socket).ino);
    } finally {
      await new Promise<void>((r) => live.close(() => r()));
    }
  });
});

/** `nobody`: the second uid of the per-peer test. */
const NOBODY = 65534;

function hasSetpriv(): boolean {
  return ['/usr/bin/setpriv', '/bin/setpriv'].some((p) => existsSync(p));
}

/**
 * Issue 18, Medium item 3 (the part left): one local user or one process must not take every
 * connection slot. Peers are told apart by SO_PEERCRED (native/peer-cred.c, built on first use);
 * the real test connects from this process, from a second process of the same uid and from a
 * process running as `nobody`.
 */
describe('per-peer connection shares', () => {
  const reader = loadPeerCredReader();
  const why = reader.available ? '' : reader.reason;
  const asRoot = process.getuid?.() === 0;
  it.skipIf(skipWithout(reader.available && asRoot && hasSetpriv(), 'per-peer share test', `${why} (and it runs as root with setpriv, util-linux, to connect as nobody)`))(
    'one process gets its share, one uid its share, and another user still gets the slots left',
    async () => {
      chmodSync(tmp.dir, 0o755); // nobody must reach the socket; the socket itself is 0660 group nogroup
      running = await startTestService(tmp, { maxConnections: 8, gid: NOBODY, minEvictableIdleMs: 3_600_000 });
      const own = [];
      for (let i = 0; i < 4; i++) own.push(await (await client()).request({ id: i, method: 'health' }));
      expect(own.map((r) => r.result?.['status'])).toEqual(['ok', 'ok', 'ok', 'ok']);
      expect(own[0]?.result?.['peerShares']).toMatchObject({ enabled: true, maxPerUid: 6, maxPerPid: 4, uids: 1 });
      const fifth = await (await client()).next();
      expect(fifth.error).toMatchObject({ code: 'E_TOO_MANY_CONNECTIONS', message: `pid ${process.pid} already holds 4 of this server's 8 connections, its share; close one or try again later` });

      const sameUid = await clientProcess(tmp.socket, 3);
      try {
        expect(sameUid.replies.map((r) => r.result?.['status'] ?? r.error?.code)).toEqual(['ok', 'ok', 'E_TOO_MANY_CONNECTIONS']);
        expect(sameUid.replies[2]?.error?.message).toContain("uid 0 already holds 6 of this server's 8 connections, its share");
        const other = await clientProcess(tmp.socket, 3, NOBODY);
        try {
          expect(other.pid).not.toBe(sameUid.pid);
          // Two slots were left for other users; the third connection is the reserved health slot.
          expect(other.replies.map((r) => r.result?.['status'] ?? r.error?.code)).toEqual(['ok', 'ok', 'ok']);
          expect(other.replies[2]?.result).toMatchObject({ connections: 8, peerShares: { uids: 2 } });
          expect(running.server.connectionCount).toBe(8);
        } finally {
          await other.end();
        }
      } finally {
        await sameUid.end();
      }
    },
    60_000,
  );

  it.skipIf(skipWithout(reader.available, 'per-peer share test', why))(
    "a process at its share gets in when one of its own connections has been idle long enough (and nobody else's is closed)",
    async () => {
      running = await startTestService(tmp, { maxConnections: 8, maxConnectionsPerPid: 2, minEvictableIdleMs: 0 });
      const first = await client();
      const second = await client();
      expect(await second.request({ id: 1, method: 'health' })).toMatchObject({ result: { status: 'ok' } });
      const third = await client();
      expect(await third.request({ id: 2, method: 'health' })).toMatchObject({ result: { status: 'ok', connections: 2 } });
      expect(await first.next()).toMatchObject({ id: null, error: { code: 'E_IDLE', message: expect.stringContaining('this pid holds its share of connections') } });
    },
  );

  it('without peer credentials: the global limit only, and health says shares are off and why', async () => {
    const off: PeerCredReader = { available: false, reason: 'per-peer connection shares are off: no C compiler' };
    running = await startTestService(tmp, { maxConnections: 4, peerCredentials: off, minEvictableIdleMs: 3_600_000 });
    const replies = [];
    for (let i = 0; i < 4; i++) replies.push(await (await client()).request({ id: i, method: 'health' }));
    expect(replies.map((r) => r.result?.['status'])).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(replies[3]?.result?.['peerShares']).toEqual({ enabled: false, reason: 'per-peer connection shares are off: no C compiler' });
  });
});
