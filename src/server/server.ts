/**
 * The unix-socket server: accepts connections (up to a maximum; when full, the connection idle
 * longest makes room, and one reserved connection still answers `health`), hands each to a
 * {@link Connection}, and shuts down in order — stop accepting, remove the socket file, let
 * every connection finish its pending replies (or cut it at the drain deadline), stop a
 * running fit. Closing the store is the owner's job (`start.ts`), after this resolves.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { Connection } from './connection.js';
import { ServiceError } from './errors.js';
import { errorLine } from './protocol.js';
import type { Service } from './service.js';
import { listenExclusive, removeSocket, type BoundSocket } from './socket-file.js';

/** Request lines longer than this get `E_TOO_LARGE`: 1 MiB. */
export const DEFAULT_MAX_LINE_BYTES = 1024 * 1024;
export const DEFAULT_MAX_CONNECTIONS = 64;
export const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;
/** A connection with nothing in flight that sends nothing for this long is closed: 5 min. */
export const DEFAULT_IDLE_TIMEOUT_MS = 300_000;
/** A request line must be completed within this: 10 s (a VMM writes a line in one go). */
export const DEFAULT_LINE_TIMEOUT_MS = 10_000;
/**
 * When the server is full, an idle connection younger than this is not evicted for a newcomer,
 * ms: a VMM between two polls keeps its connection.
 */
export const MIN_EVICTABLE_IDLE_MS = 1_000;

export interface ServerOptions {
  readonly socketPath: string;
  /** Group id to own the socket (mode 0660); default: mode 0600. */
  readonly gid?: number | undefined;
  /** Default {@link DEFAULT_MAX_CONNECTIONS}; one more gets `E_TOO_MANY_CONNECTIONS` and is closed. */
  readonly maxConnections?: number;
  /** Default {@link DEFAULT_MAX_LINE_BYTES}. */
  readonly maxLineBytes?: number;
  /** On shutdown, how long to wait for clients to take their last replies, ms. Default 10 s. */
  readonly drainTimeoutMs?: number;
  /** Default {@link DEFAULT_IDLE_TIMEOUT_MS}. */
  readonly idleTimeoutMs?: number;
  /** Default {@link DEFAULT_LINE_TIMEOUT_MS}. */
  readonly lineTimeoutMs?: number;
  /** Default {@link MIN_EVICTABLE_IDLE_MS}. */
  readonly minEvictableIdleMs?: number;
}

export class ServiceServer {
  private readonly connections = new Set<Connection>();
  /** The reserved slot past the maximum: `health` only, so a full server can still say how it is. */
  private reserved: Connection | undefined;
  private nextId = 1;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly server: Server,
    private readonly service: Service,
    readonly socket: BoundSocket,
    private readonly options: ServerOptions,
  ) {
    service.serverInfo = () => ({
      socketPath: socket.path,
      connections: this.connections.size,
      blockedConnections: this.sum((c) => (c.blocked ? 1 : 0)),
      bufferedRequestBytes: this.sum((c) => c.bufferedBytes),
      draining: this.closing !== undefined,
    });
  }

  /** Binds the socket (see socket-file.ts) and starts accepting. */
  static async listen(service: Service, options: ServerOptions): Promise<ServiceServer> {
    const server = createServer({ allowHalfOpen: true });
    const bound = await listenExclusive(server, options.socketPath, { gid: options.gid });
    const s = new ServiceServer(server, service, bound, options);
    server.on('connection', (socket) => s.accept(socket));
    return s;
  }

  /** Connections open now. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /**
   * Stops accepting, removes the socket file, stops a running fit, lets each connection write
   * its pending replies, and resolves once all are closed (clients still not reading at the
   * deadline are cut off). Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private sum(of: (c: Connection) => number): number {
    let n = 0;
    for (const c of this.connections) n += of(c);
    return n;
  }

  private accept(socket: Socket): void {
    if (this.closing !== undefined) {
      socket.destroy();
      return;
    }
    const max = this.options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    const limits = {
      maxLineBytes: this.options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES,
      idleTimeoutMs: this.options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
      lineTimeoutMs: this.options.lineTimeoutMs ?? DEFAULT_LINE_TIMEOUT_MS,
    };
    if (this.connections.size >= max) this.evictLongestIdle(max);
    if (this.connections.size >= max) {
      if (this.reserved === undefined) {
        const conn = new Connection(socket, this.nextId++, this.service, { ...limits, healthOnly: true });
        this.reserved = conn;
        void conn.closed.then(() => {
          if (this.reserved === conn) this.reserved = undefined;
        });
        return;
      }
      socket.on('error', () => socket.destroy());
      const reply = errorLine(null, new ServiceError('E_TOO_MANY_CONNECTIONS', `the server already serves ${max} connections; try again later`));
      socket.end(reply, () => socket.destroy());
      return;
    }
    const conn = new Connection(socket, this.nextId++, this.service, limits);
    this.connections.add(conn);
    void conn.closed.then(() => this.connections.delete(conn));
  }

  /** Makes room for a newcomer by closing the connection idle longest (at least {@link MIN_EVICTABLE_IDLE_MS}). */
  private evictLongestIdle(max: number): void {
    let oldest: Connection | undefined;
    for (const c of this.connections) {
      const since = c.idleSince;
      if (since !== undefined && (oldest === undefined || since < (oldest.idleSince ?? Infinity))) oldest = c;
    }
    const since = oldest?.idleSince;
    if (oldest === undefined || since === undefined || performance.now() - since < (this.options.minEvictableIdleMs ?? MIN_EVICTABLE_IDLE_MS)) return;
    this.connections.delete(oldest);
    oldest.expel('E_IDLE', `the server is full (${max} connections) and this one was idle longest; closing`);
  }

  private async shutDown(): Promise<void> {
    const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
    removeSocket(this.socket);
    this.service.stop();
    const drained = Promise.all([...this.connections, ...(this.reserved === undefined ? [] : [this.reserved])].map((c) => c.drain()));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS);
    });
    await Promise.race([drained, deadline]);
    clearTimeout(timer);
    for (const c of this.connections) c.destroy();
    this.reserved?.destroy();
    await stopped;
  }
}
