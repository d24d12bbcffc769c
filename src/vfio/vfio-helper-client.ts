/**
 * The host side of `vfio-helper` (native/vfio-helper.c), the small static C program of ours that
 * issues the VFIO ioctls: one JSON object per line each way, over any byte stream — the helper's
 * stdin/stdout on a real host (`VfioHelperClient.spawn()`), or a virtio-serial port of a test
 * guest (a unix socket on the host).
 *
 * Requests: `{"id", "op", ...params}`. Replies: `{"id", "ok": true, "t0Ns", "ns", ...}` or
 * `{"id", "ok": false, "errno": "EINVAL", "errnoNum", "message", "t0Ns", "ns", ...}`, where `ns` is
 * the CLOCK_MONOTONIC time the kernel call(s) of the request took where the helper runs.
 * Ops: `hello`; `create {parent, type, uuid}` / `remove {uuid}` (mdev sysfs); `open {dev}` (mdev
 * UUID or PCI address → `{h, flags, group}`); with a handle `h`: `get`, `set {state}` (→
 * `{before, state, dataFd}`; on failure `before`/`state` too), `size`, `precopy`, `read {max}`,
 * `write {hex}`, `bar0read {offset, count}`, `bar0write {offset, hex}`, `reset`, `close`.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { Duplex } from 'node:stream';
import { LineFramer, TOO_LARGE } from '../telemetry/line-framer.js';

/** A reply's fields; `ns`/`t0Ns` are always there. */
export type HelperReply = Readonly<Record<string, unknown>> & { readonly ns: number; readonly t0Ns: number };

/** A request the helper (or the kernel beneath it) refused: `code` is the errno name. */
export class HelperError extends Error {
  constructor(
    readonly code: string,
    readonly op: string,
    readonly reply: HelperReply | null,
    message: string,
  ) {
    super(`${code}: vfio-helper ${op}: ${message}`);
    this.name = 'HelperError';
  }
}

export interface HelperClientOptions {
  /** A request unanswered after this long fails with ETIMEDOUT, ms (30 000). */
  readonly timeoutMs?: number;
}

/** Longest reply line accepted (a 1 MiB read as hex, plus room), bytes: framed by the one line splitter (`telemetry/line-framer.ts`). */
const MAX_LINE_BYTES = 4 * 1024 * 1024;

interface Pending {
  readonly op: string;
  readonly resolve: (r: HelperReply) => void;
  readonly reject: (e: Error) => void;
  readonly timer: NodeJS.Timeout;
}

export class VfioHelperClient {
  private nextId = 1;
  private readonly framer = new LineFramer(MAX_LINE_BYTES);
  private readonly pending = new Map<number, Pending>();
  private closedBecause: Error | null = null;
  private readonly timeoutMs: number;

  constructor(
    private readonly stream: Duplex,
    options: HelperClientOptions = {},
    private readonly child?: ChildProcessWithoutNullStreams,
  ) {
    this.timeoutMs = options.timeoutMs ?? 30_000;
    stream.on('data', (chunk: Buffer | string) => this.onData(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk));
    const end = (why: string) => () => this.failAll(new HelperError('EPIPE', 'stream', null, why));
    stream.on('end', end('the helper closed its end'));
    stream.on('close', end('the helper stream closed'));
    stream.on('error', (e: Error) => this.failAll(new HelperError('EPIPE', 'stream', null, e.message)));
    child?.once('error', (e: NodeJS.ErrnoException) => this.failAll(new HelperError(e.code ?? 'EUNKNOWN', 'spawn', null, e.message)));
    child?.once('exit', (code, signal) => this.failAll(new HelperError('EPIPE', 'stream', null, `the helper exited (code ${code}, signal ${signal})`)));
  }

  /** Runs `command args...` (the helper on this host) and talks to it over its stdin/stdout. */
  static spawn(command: string, args: readonly string[] = [], options: HelperClientOptions = {}): VfioHelperClient {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stderr.resume();
    return new VfioHelperClient(Duplex.from({ readable: child.stdout, writable: child.stdin }), options, child);
  }

  /** Sends one request; resolves with an `ok` reply, rejects with {@link HelperError}. */
  request(op: string, params: Readonly<Record<string, string | number>> = {}): Promise<HelperReply> {
    if (this.closedBecause !== null) return Promise.reject(this.closedBecause);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new HelperError('ETIMEDOUT', op, null, `no reply within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.set(id, { op, resolve, reject, timer });
      this.stream.write(`${JSON.stringify({ id, op, ...params })}\n`);
    });
  }

  /** Ends the stream (the helper exits at end of input) and fails what is still pending. */
  async close(): Promise<void> {
    this.failAll(new HelperError('EPIPE', 'close', null, 'the client was closed'));
    this.stream.end();
    if (this.child !== undefined && this.child.exitCode === null) {
      await new Promise((resolve) => {
        const t = setTimeout(() => this.child?.kill('SIGKILL'), 2000);
        this.child?.once('exit', () => {
          clearTimeout(t);
          resolve(undefined);
        });
      });
    }
  }

  private onData(chunk: Buffer): void {
    this.framer.push(chunk);
    for (let line = this.framer.next(); line !== undefined; line = this.framer.next()) {
      if (line === TOO_LARGE) {
        this.failAll(new HelperError('E2BIG', 'stream', null, `a reply line over ${MAX_LINE_BYTES} bytes`));
        continue;
      }
      const text = line.toString('utf8').trim();
      if (text !== '') this.onLine(text);
    }
  }

  private onLine(line: string): void {
    let reply: unknown;
    try {
      reply = JSON.parse(line);
    } catch {
      return; // not ours (e.g. a console message on a shared port)
    }
    if (typeof reply !== 'object' || reply === null) return;
    const r = reply as Record<string, unknown>;
    const id = typeof r['id'] === 'number' ? r['id'] : -1;
    const p = this.pending.get(id);
    if (p === undefined) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    const withTimes = { ...r, ns: typeof r['ns'] === 'number' ? r['ns'] : 0, t0Ns: typeof r['t0Ns'] === 'number' ? r['t0Ns'] : 0 };
    if (r['ok'] === true) p.resolve(withTimes);
    else p.reject(new HelperError(typeof r['errno'] === 'string' ? r['errno'] : 'EUNKNOWN', p.op, withTimes, String(r['message'] ?? 'failed')));
  }

  private failAll(e: Error): void {
    if (this.closedBecause === null) this.closedBecause = e;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(e);
    }
  }
}

/** The number field `key` of a reply, or a HelperError naming it. */
export function replyNumber(reply: HelperReply, op: string, key: string): number {
  const v = reply[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new HelperError('EPROTO', op, reply, `reply without a number "${key}"`);
  return v;
}

/** The string field `key` of a reply, or a HelperError naming it. */
export function replyString(reply: HelperReply, op: string, key: string): string {
  const v = reply[key];
  if (typeof v !== 'string') throw new HelperError('EPROTO', op, reply, `reply without a string "${key}"`);
  return v;
}
