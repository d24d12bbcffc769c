/**
 * Issue 18, Medium item 3 (the part left): one local user or one process must not take every
 * connection slot. Peers are told apart by SO_PEERCRED (native/peer-cred.c, built on first use);
 * the real test connects from this process, from a second process of the same uid and from a
 * process running as `nobody`.
 */
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadPeerCredReader, type PeerCredReader } from '../../src/server/peer-cred.js';
import { defaultPeerShares } from '../../src/server/server.js';
import type { RunningService } from '../../src/server/start.js';
import { skipWithout } from '../helpers/ci.js';
import { LineClient, startTestService, tempDir, type Reply, type TempDir } from './helpers.js';

const NOBODY = 65534;
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

async function client(): Promise<LineClient> {
  const c = await LineClient.connect(tmp.socket);
  clients.push(c);
  return c;
}

/**
 * A client process (as `uid`, via setpriv, when given) that opens `n` connections one after
 * another, sends `health` on each, and reports each first reply line; it keeps its connections
 * open until its stdin closes. Resolves with the replies and a function that ends it.
 */
function clientProcess(socket: string, n: number, uid?: number): Promise<{ pid: number; replies: Reply[]; end: () => Promise<void> }> {
  const script = `
    const net = require('node:net');
    const held = [];
    (async () => {
      const replies = [];
      for (let i = 0; i < ${n}; i++) {
        replies.push(await new Promise((resolve, reject) => {
          const s = net.connect(${JSON.stringify(socket)});
          held.push(s);
          let buf = '';
          // A refused connection is closed at once: our request may meet EPIPE; its reply line is read all the same.
          s.on('error', () => undefined);
          s.on('close', () => resolve(buf.includes('\\n') ? JSON.parse(buf.slice(0, buf.indexOf('\\n'))) : { closed: true }));
          s.on('data', (d) => { buf += d; const nl = buf.indexOf('\\n'); if (nl >= 0) resolve(JSON.parse(buf.slice(0, nl))); });
          s.write(JSON.stringify({ id: i, method: 'health' }) + '\\n');
        }));
      }
      process.stdout.write(JSON.stringify({ pid: process.pid, replies }) + '\\n');
    })().catch((e) => { console.error(e); process.exit(1); });
    process.stdin.on('end', () => process.exit(0));
    process.stdin.resume();`;
  const argv = ['node', '-e', script];
  const [cmd, ...args] = uid === undefined ? argv : ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', ...argv];
  const child = spawn(cmd as string, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!out.includes('\n')) return;
      const r = JSON.parse(out) as { pid: number; replies: Reply[] };
      resolve({ ...r, end: () => (child.stdin.end(), exited) });
    });
    child.once('exit', (code) => reject(new Error(`client process exited with ${code} before replying`)));
  });
}

function hasSetpriv(): boolean {
  return ['/usr/bin/setpriv', '/bin/setpriv'].some((p) => existsSync(p));
}

describe('per-peer connection shares', () => {
  it('default shares: ¾ of the slots per uid, ½ per process, at least one each', () => {
    expect([64, 8, 2, 1].map(defaultPeerShares)).toEqual([
      { perUid: 48, perPid: 32 },
      { perUid: 6, perPid: 4 },
      { perUid: 2, perPid: 1 },
      { perUid: 1, perPid: 1 },
    ]);
  });

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

describe('building the peer-credential module', () => {
  let cache: string;
  beforeEach(() => {
    cache = mkdtempSync(join(tmpdir(), 'vsla-peercred-'));
  });
  afterEach(() => rmSync(cache, { recursive: true, force: true }));

  it('says which compiler is missing', () => {
    const r = loadPeerCredReader({ cacheDir: cache, compiler: '/nonexistent/cc' });
    expect(r).toEqual({ available: false, reason: "per-peer connection shares are off: no C compiler '/nonexistent/cc' (install gcc, or set CC)" });
  });

  it("says where Node's headers were looked for", () => {
    const r = loadPeerCredReader({ cacheDir: cache, includeDirs: [join(cache, 'no-include')] });
    expect(r).toEqual({ available: false, reason: `per-peer connection shares are off: Node's headers (node_api.h) are not in ${join(cache, 'no-include')}: install Node with its headers` });
  });

  it('does not load a cached module that others could have written', () => {
    const first = loadPeerCredReader({ cacheDir: cache });
    if (skipWithout(first.available, 'peer-credential module test', first.available ? '' : first.reason)) return;
    const [key] = readdirSync(cache);
    const built = join(cache, key as string, 'peer-cred.node');
    chmodSync(built, 0o666);
    const r = loadPeerCredReader({ cacheDir: cache });
    expect(r.available).toBe(false);
    expect(r.available ? '' : r.reason).toContain(`${built} is not a file of ours alone (owner uid ${process.getuid?.() ?? 0}, mode 666): not loading it`);
  });

  it('does not load a module planted in the cache by another uid', () => {
    if (process.getuid?.() !== 0) return; // chown needs root; the mode check above covers the rest
    const first = loadPeerCredReader({ cacheDir: cache });
    if (skipWithout(first.available, 'peer-credential module test', first.available ? '' : first.reason)) return;
    const [key] = readdirSync(cache);
    const dir = join(cache, key as string);
    chownSync(join(dir, 'peer-cred.node'), NOBODY, NOBODY);
    const r = loadPeerCredReader({ cacheDir: cache });
    expect(r.available ? '' : r.reason).toContain('is not a file of ours alone (owner uid 65534');
  });
});
