/**
 * The unix-socket server: accepts connections (up to a maximum), hands each to a
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
}

export class ServiceServer {
  private readonly connections = new Set<Connection>();
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
    if (this.connections.size >= max) {
      socket.on('error', () => socket.destroy());
      const reply = errorLine(null, new ServiceError('E_TOO_MANY_CONNECTIONS', `the server already serves ${max} connections; try again later`));
      socket.end(reply, () => socket.destroy());
      return;
    }
    const conn = new Connection(socket, this.nextId++, this.service, this.options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES);
    this.connections.add(conn);
    void conn.closed.then(() => this.connections.delete(conn));
  }

  private async shutDown(): Promise<void> {
    const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
    removeSocket(this.socket);
    this.service.stop();
    const drained = Promise.all([...this.connections].map((c) => c.drain()));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS);
    });
    await Promise.race([drained, deadline]);
    clearTimeout(timer);
    for (const c of this.connections) c.destroy();
    await stopped;
  }
}
