/**
 * Issue 18, items 3 and 6: 64 held-open connections locked every client out, `health`
 * included; socket paths over 107 bytes were "listening" where no client could connect.
 */
import { existsSync, linkSync, lstatSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { clearStaleSocket } from '../../src/server/socket-file.js';
import type { RunningService } from '../../src/server/start.js';
import { captureIo } from '../cli/io.js';
import { arc } from '../store/fixtures.js';
import { decideRequest, LineClient, startTestService, tempDir, type TempDir } from '../server/helpers.js';

let tmp: TempDir;
let running: RunningService | undefined;
const clients: LineClient[] = [];
beforeEach(() => {
  tmp = tempDir('vsla-h18-');
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await running?.close();
  running = undefined;
  tmp.cleanup();
});

async function client(): Promise<LineClient> {
  const c = await LineClient.connect(tmp.socket);
  clients.push(c);
  return c;
}

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
    running = await startTestService(tmp, { maxConnections: 4, minEvictableIdleMs: 0 });
    const holders = [];
    for (let i = 0; i < 4; i++) holders.push(await client());
    const vmm = await client();
    expect(await vmm.request(decideRequest(1))).toMatchObject({ id: 1, result: { action: expect.any(String) } });
    expect(await holders[0]!.next()).toMatchObject({ id: null, error: { code: 'E_IDLE' } });
    expect(running.server.connectionCount).toBe(4);
  });

  it('when every slot is busy, one reserved connection still answers health (and nothing else)', async () => {
    running = await startTestService(tmp, { maxConnections: 2 });
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
