/** Shared helpers of the service tests: a temp dir, a started service, a JSON-lines client. */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inlineFitter } from '../../src/server/fitter.js';
import { loadedModel } from '../../src/server/model-state.js';
import { startService, type RunningService, type StartOptions } from '../../src/server/start.js';
import { Store } from '../../src/store/store.js';
import { simulateFleet, TestRng } from '../estimators/simulate.js';
import { calibratedSimModel } from '../governor/fixtures.js';

export interface TempDir {
  readonly dir: string;
  readonly socket: string;
  readonly db: string;
  cleanup(): void;
}

/** A short temp dir (unix socket paths are limited to 107 bytes) with a socket and a db path. */
export function tempDir(prefix = 'vsla-srv-'): TempDir {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, socket: join(dir, 's.sock'), db: join(dir, 't.db'), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Starts a service on `tmp.socket` with the calibrated sim model, an inline fitter and `tmp.db`. */
export function startTestService(tmp: TempDir, over: Partial<StartOptions> = {}): Promise<RunningService> {
  return startService({
    socketPath: tmp.socket,
    dbPath: tmp.db,
    model: loadedModel(calibratedSimModel(), 'file', null, '2026-01-01T00:00:00.000Z'),
    fitter: inlineFitter(),
    pipeline: { spillPath: null },
    ...over,
  });
}

/** Writes `migrations` simulated migrations (arcs, RAM, transfers, outcomes) into the database at `db`. */
export function fillStore(db: string, migrations: number, seed = 9): void {
  const store = Store.open(db);
  store.writeBatch(simulateFleet(new TestRng(seed), migrations, 'lab').flat().map((record) => ({ record, source: undefined })));
  store.close();
}

export type Reply = Readonly<Record<string, unknown>> & {
  readonly id: unknown;
  readonly result?: Readonly<Record<string, unknown>>;
  readonly error?: { readonly code: string; readonly message: string; readonly field?: string };
};

/** A JSON-lines client over a unix socket: send lines, await reply lines in order. */
export class LineClient {
  private buffer = '';
  private readonly lines: string[] = [];
  private waiters: Array<(line: string | null) => void> = [];
  private ended = false;

  private constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      this.buffer += text;
      let nl: number;
      while ((nl = this.buffer.indexOf('\n')) !== -1) {
        this.deliver(this.buffer.slice(0, nl));
        this.buffer = this.buffer.slice(nl + 1);
      }
    });
    const end = (): void => {
      this.ended = true;
      for (const w of this.waiters) w(null);
      this.waiters = [];
    };
    socket.on('end', end);
    socket.on('close', end);
    socket.on('error', () => undefined);
  }

  static connect(path: string): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(path);
      socket.once('connect', () => resolve(new LineClient(socket)));
      socket.once('error', reject);
    });
  }

  private deliver(line: string): void {
    const w = this.waiters.shift();
    if (w !== undefined) w(line);
    else this.lines.push(line);
  }

  /** Writes `request` (an object as one JSON line, or raw text as it is). */
  send(request: unknown): void {
    this.socket.write(typeof request === 'string' ? request : `${JSON.stringify(request)}\n`);
  }

  /** The next reply line, or null when the server closed the connection. */
  nextLine(): Promise<string | null> {
    const line = this.lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.ended) return Promise.resolve(null);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  async next(): Promise<Reply> {
    const line = await this.nextLine();
    if (line === null) throw new Error('connection closed before a reply');
    return JSON.parse(line) as Reply;
  }

  async request(request: unknown): Promise<Reply> {
    this.send(request);
    return this.next();
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Polls `check` every few ms until it holds (the test's own timeout bounds the wait). */
export async function waitUntil(check: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, 5));
}

/** A decide request for the sim model: one mlx5 device in PRE_COPY_P2P. */
export function decideRequest(id: unknown, over: { deadlineMs?: number; ramRemainingBytes?: number; state?: string } = {}): Record<string, unknown> {
  return {
    id,
    method: 'decide',
    params: {
      snapshot: {
        devices: [{ id: '0000:3b:00.1', model: 'mlx5-cx7', state: over.state ?? 'PRE_COPY_P2P', flags: 7, stopCopyBytes: 100 * 1024 * 1024, initialBytes: 0, dirtyBytes: 1024 * 1024 }],
        ramRemainingBytes: over.ramRemainingBytes ?? 64 * 1024 * 1024,
        ramDirtyBytesPerS: 256 * 1024 * 1024,
        precopyBandwidthBytesPerS: 1024 * 1024 * 1024,
        elapsedMs: 10_000,
      },
      slo: { deadlineMs: over.deadlineMs ?? 2000, alpha: 0.01, budgetMs: 600_000 },
    },
  };
}

/**
 * A client process (as `uid`, via setpriv, when given) that opens `n` connections one after
 * another, sends `health` on each, and reports each first reply line; it keeps its connections
 * open until its stdin closes. Resolves with the replies and a function that ends it.
 */
export function clientProcess(socket: string, n: number, uid?: number): Promise<{ pid: number; replies: Reply[]; end: () => Promise<void> }> {
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
