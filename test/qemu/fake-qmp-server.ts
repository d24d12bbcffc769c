/**
 * A fake QEMU monitor for the QMP client's tests: a real unix-socket server that speaks QMP as
 * `docs/interop/qmp-spec.rst` describes it — greeting, capabilities negotiation (commands before
 * `qmp_capabilities` are refused the way QEMU refuses them), `id` echo, `\r\n`-terminated lines,
 * `CommandNotFound` for unknown commands — and lets a test script replies, events, partial and
 * coalesced writes, and abrupt closes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { QmpEndpoint } from '../../src/qemu/qmp-options.js';

/** A command as the server received it. */
export interface ReceivedCommand {
  readonly execute: string;
  readonly oob: boolean;
  readonly arguments: Readonly<Record<string, unknown>> | undefined;
  readonly id: unknown;
  /** 1-based connection number it arrived on. */
  readonly connection: number;
}

/** What a handler does with a command. */
export type Reply =
  | { readonly return: unknown }
  | { readonly error: { readonly class: string; readonly desc: string } }
  /** Send nothing now; the test answers later through `ctx.reply` / `ctx.write`. */
  | { readonly noReply: true };

export interface HandlerContext {
  /** Writes a reply for this command (with its id) — for deferred answers. */
  reply(r: { return: unknown } | { error: { class: string; desc: string } }): void;
  /** Writes raw text on this connection (no terminator added). */
  write(text: string | Buffer): void;
}

export type Handler = (cmd: ReceivedCommand, ctx: HandlerContext) => Reply;

export interface FakeQmpOptions {
  /** Greeting capabilities (default `["oob"]`, as QEMU 2.12+ offers). */
  readonly capabilities?: readonly string[];
  /** Send no greeting at all (a hung peer). */
  readonly silent?: boolean;
  /** Command names `query-commands` lists (default: the handlers' names plus the built-ins). */
  readonly commands?: readonly string[];
  /** Listen on TCP 127.0.0.1 (a free port) instead of a unix socket. */
  readonly tcp?: boolean;
}

/** The QEMU version the fake greets with and answers `query-version` with. */
export const FAKE_VERSION = { qemu: { micro: 0, minor: 2, major: 7 }, package: 'fake' } as const;

export class FakeQmpServer {
  readonly received: ReceivedCommand[] = [];
  connections = 0;
  private readonly handlers = new Map<string, Handler>();
  private server: Server | undefined;
  private current: Socket | undefined;
  private readonly sockets = new Set<Socket>();
  private waiters: Array<{ match: (c: ReceivedCommand) => boolean; resolve: (c: ReceivedCommand) => void }> = [];
  private tcpPort = 0;

  private constructor(
    readonly dir: string,
    readonly path: string,
    readonly options: FakeQmpOptions,
  ) {
    this.on('query-status', () => ({ return: { running: true, singlestep: false, status: 'running' } }));
    this.on('query-commands', () => ({
      return: (options.commands ?? ['qmp_capabilities', 'query-commands', ...this.handlers.keys()]).map((name) => ({ name })),
    }));
  }

  static async start(options: FakeQmpOptions = {}): Promise<FakeQmpServer> {
    const dir = mkdtempSync(join(tmpdir(), 'vfio-sla-fakeqmp-'));
    const s = new FakeQmpServer(dir, join(dir, 'qmp.sock'), options);
    await s.listen();
    return s;
  }

  /** Where a client connects: the unix socket, or 127.0.0.1 and the port once listening. */
  get endpoint(): QmpEndpoint {
    return this.options.tcp === true ? { host: '127.0.0.1', port: this.tcpPort } : { path: this.path };
  }

  /** Sets the handler of one command (replacing any earlier one). */
  on(command: string, handler: Handler): this {
    this.handlers.set(command, handler);
    return this;
  }

  /** Resolves with the next received command that matches (or one already received). */
  waitForCommand(execute: string, connection?: number): Promise<ReceivedCommand> {
    const match = (c: ReceivedCommand): boolean => c.execute === execute && (connection === undefined || c.connection === connection);
    const seen = this.received.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }

  /** Writes raw text to the current connection. */
  write(text: string | Buffer): void {
    this.current?.write(text);
  }

  /** Emits an event on the current connection, as QEMU formats it. */
  event(event: string, data?: Record<string, unknown>, atS = 1_700_000_000.25): void {
    this.write(eventLine(event, data, atS));
  }

  /** Destroys the current connection without a goodbye (QEMU crash, `kill -9`). */
  dropConnection(): void {
    this.current?.destroy();
  }

  /** Stops listening and drops every connection (the socket file goes away). */
  async stopListening(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const srv = this.server;
    this.server = undefined;
    if (srv !== undefined) await new Promise<void>((r) => srv.close(() => r()));
  }

  /** Listens again on the same path (a restarted QEMU). */
  async listen(): Promise<void> {
    const srv = createServer((sock) => this.onConnection(sock));
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      if (this.options.tcp === true) srv.listen({ host: '127.0.0.1', port: this.tcpPort }, () => resolve());
      else srv.listen(this.path, () => resolve());
    });
    const addr = srv.address();
    if (typeof addr === 'object' && addr !== null) this.tcpPort = addr.port;
    this.server = srv;
  }

  async close(): Promise<void> {
    await this.stopListening();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private onConnection(sock: Socket): void {
    const connection = ++this.connections;
    this.current = sock;
    this.sockets.add(sock);
    sock.on('close', () => this.sockets.delete(sock));
    sock.on('error', () => undefined);
    let negotiated = false;
    let buf = '';
    if (this.options.silent !== true) {
      const greeting = {
        QMP: { version: FAKE_VERSION, capabilities: this.options.capabilities ?? ['oob'] },
      };
      sock.write(`${JSON.stringify(greeting)}\r\n`);
    }
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      buf += chunk;
      for (let nl = buf.indexOf('\n'); nl !== -1; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line.length > 0) negotiated = this.onLine(sock, line, connection, negotiated);
      }
    });
  }

  private onLine(sock: Socket, line: string, connection: number, negotiated: boolean): boolean {
    const msg = JSON.parse(line) as Record<string, unknown>;
    const oob = 'exec-oob' in msg;
    const cmd: ReceivedCommand = {
      execute: String(oob ? msg['exec-oob'] : msg['execute']),
      oob,
      arguments: msg['arguments'] as Record<string, unknown> | undefined,
      id: msg['id'],
      connection,
    };
    this.received.push(cmd);
    const send = (r: { return: unknown } | { error: { class: string; desc: string } }): void => {
      const out: Record<string, unknown> = { ...r };
      if (cmd.id !== undefined) out['id'] = cmd.id;
      sock.write(`${JSON.stringify(out)}\r\n`);
    };
    for (const w of this.waiters.filter((x) => x.match(cmd))) w.resolve(cmd);
    this.waiters = this.waiters.filter((x) => !x.match(cmd));

    if (cmd.execute === 'qmp_capabilities') {
      const enable = cmd.arguments?.['enable'];
      const offered = this.options.capabilities ?? ['oob'];
      if (Array.isArray(enable) && enable.some((c) => !offered.includes(String(c)))) {
        send({ error: { class: 'GenericError', desc: "Capability 'oob' not available" } });
        return negotiated;
      }
      if (negotiated) {
        send({ error: { class: 'CommandNotFound', desc: 'Capabilities negotiation is already complete, command ignored' } });
        return true;
      }
      send({ return: {} });
      return true;
    }
    if (!negotiated) {
      send({ error: { class: 'CommandNotFound', desc: "Expecting capabilities negotiation with 'qmp_capabilities'" } });
      return false;
    }
    const handler = this.handlers.get(cmd.execute);
    if (handler === undefined && cmd.execute === 'query-version') {
      // As QEMU: the greeting's VersionInfo (`qapi/control.json`).
      send({ return: FAKE_VERSION });
      return true;
    }
    if (handler === undefined) {
      send({ error: { class: 'CommandNotFound', desc: `The command ${cmd.execute} has not been found` } });
      return true;
    }
    const r = handler(cmd, { reply: send, write: (t) => sock.write(t) });
    if (!('noReply' in r)) send(r);
    return true;
  }
}

/** One event line exactly as QEMU writes it (`monitor/qmp.c`), `\r\n` included. */
export function eventLine(event: string, data: Record<string, unknown> | undefined, atS: number): string {
  const seconds = Math.floor(atS);
  const microseconds = Math.round((atS - seconds) * 1e6);
  const body: Record<string, unknown> = { timestamp: { seconds, microseconds }, event };
  if (data !== undefined) body['data'] = data;
  return `${JSON.stringify(body)}\r\n`;
}
