/**
 * The unix-socket server: accepts connections (up to a maximum, of which one uid may hold ¾ and
 * one process ½ — see `peer-cred.ts`; when full, the connection idle longest makes room, and one
 * reserved connection still answers `health`), hands each to a
 * {@link Connection}, and shuts down in order — stop accepting, remove the socket file, let
 * every connection finish its pending replies (or cut it at the drain deadline), stop a
 * running fit. Closing the store is the owner's job (`start.ts`), after this resolves.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { Connection } from './connection.js';
import { ServiceError } from './errors.js';
import { errorLine } from './protocol.js';
import type { Service } from './service.js';
import { loadPeerCredReader, type PeerCredentials, type PeerCredReader, type PeerShareInfo } from './peer-cred.js';
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
/** How long a refused connection is read from (and its data dropped) before it is closed, ms. */
const REFUSED_LINGER_MS = 1_000;

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
  /** Connections one uid may hold. Default {@link defaultPeerShares}: ¾ of the maximum. */
  readonly maxConnectionsPerUid?: number;
  /** Connections one process may hold. Default {@link defaultPeerShares}: ½ of the maximum. */
  readonly maxConnectionsPerPid?: number;
  /** How peers are identified. Default {@link loadPeerCredReader} (built and cached on first use). */
  readonly peerCredentials?: PeerCredReader;
}

/**
 * Each uid may hold ¾ of the slots (so one local user, say a runaway script, leaves a quarter to
 * everyone else), each process half (a VMM needs one or two). At least 1 each.
 */
export function defaultPeerShares(maxConnections: number): { perUid: number; perPid: number } {
  return { perUid: Math.max(1, maxConnections - Math.floor(maxConnections / 4)), perPid: Math.max(1, Math.floor(maxConnections / 2)) };
}

export class ServiceServer {
  private readonly connections = new Set<Connection>();
  /** The reserved slot past the maximum: `health` only, so a full server can still say how it is. */
  private reserved: Connection | undefined;
  private nextId = 1;
  private closing: Promise<void> | undefined;
  /** Each connection's peer, when known, and how many connections each uid and pid holds. */
  private readonly peers = new Map<Connection, PeerCredentials>();
  private readonly byUid = new Map<number, number>();
  private readonly byPid = new Map<number, number>();
  private readonly shares: { perUid: number; perPid: number };

  private constructor(
    private readonly server: Server,
    private readonly service: Service,
    readonly socket: BoundSocket,
    private readonly options: ServerOptions,
    private readonly peerCred: PeerCredReader,
  ) {
    const defaults = defaultPeerShares(options.maxConnections ?? DEFAULT_MAX_CONNECTIONS);
    this.shares = { perUid: options.maxConnectionsPerUid ?? defaults.perUid, perPid: options.maxConnectionsPerPid ?? defaults.perPid };
    service.serverInfo = () => ({
      socketPath: socket.path,
      connections: this.connections.size,
      blockedConnections: this.sum((c) => (c.blocked ? 1 : 0)),
      bufferedRequestBytes: this.sum((c) => c.bufferedBytes),
      draining: this.closing !== undefined,
      peerShares: this.peerShares,
    });
  }

  /** Whether each uid and process gets a share of the connection limit, or why not. */
  get peerShares(): PeerShareInfo {
    return this.peerCred.available
      ? { enabled: true, mechanism: this.peerCred.mechanism, maxPerUid: this.shares.perUid, maxPerPid: this.shares.perPid, uids: this.byUid.size }
      : { enabled: false, reason: this.peerCred.reason };
  }

  /** Binds the socket (see socket-file.ts) and starts accepting. */
  static async listen(service: Service, options: ServerOptions): Promise<ServiceServer> {
    const server = createServer({ allowHalfOpen: true });
    const bound = await listenExclusive(server, options.socketPath, { gid: options.gid });
    const s = new ServiceServer(server, service, bound, options, options.peerCredentials ?? loadPeerCredReader());
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
    const peer = this.peerCred.available ? this.peerCred.read(socket) : undefined;
    const over = peer === undefined ? undefined : this.overShareAfterEviction(peer);
    // A peer over its share never takes someone else's slot, idle or not; the reserved health slot is anyone's.
    if (over === undefined && this.connections.size >= max) this.evictLongestIdle(() => true, `the server is full (${max} connections)`);
    if (over !== undefined || this.connections.size >= max) {
      if (this.connections.size >= max && this.reserved === undefined) {
        const conn = new Connection(socket, this.nextId++, this.service, { ...limits, healthOnly: true });
        this.reserved = conn;
        void conn.closed.then(() => {
          if (this.reserved === conn) this.reserved = undefined;
        });
        return;
      }
      refuse(
        socket,
        over === undefined
          ? `the server already serves ${max} connections; try again later`
          : `${over.key} ${over.id} already holds ${over.held} of this server's ${max} connections, its share; close one or try again later`,
      );
      return;
    }
    const conn = new Connection(socket, this.nextId++, this.service, limits);
    this.connections.add(conn);
    if (peer !== undefined) {
      this.peers.set(conn, peer);
      bump(this.byUid, peer.uid, 1);
      if (peer.pid !== 0) bump(this.byPid, peer.pid, 1);
    }
    void conn.closed.then(() => this.remove(conn));
  }

  /**
   * Which share (uid first) a newcomer from `peer` would exceed, once that uid's (or pid's) own
   * connection idle longest has made room if it could; a pid of 0 (another pid namespace) has none.
   */
  private overShareAfterEviction(peer: PeerCredentials): { key: 'uid' | 'pid'; id: number; held: number } | undefined {
    for (const key of ['uid', 'pid'] as const) {
      const counts = key === 'uid' ? this.byUid : this.byPid;
      const share = key === 'uid' ? this.shares.perUid : this.shares.perPid;
      if (key === 'pid' && peer.pid === 0) continue;
      if ((counts.get(peer[key]) ?? 0) >= share) this.evictLongestIdle((c) => this.peers.get(c)?.[key] === peer[key], `this ${key} holds its share of connections`);
      const held = counts.get(peer[key]) ?? 0;
      if (held >= share) return { key, id: peer[key], held };
    }
    return undefined;
  }

  private remove(conn: Connection): void {
    if (!this.connections.delete(conn)) return;
    const peer = this.peers.get(conn);
    if (peer === undefined) return;
    this.peers.delete(conn);
    bump(this.byUid, peer.uid, -1);
    if (peer.pid !== 0) bump(this.byPid, peer.pid, -1);
  }

  /**
   * Makes room for a newcomer by closing the connection idle longest (at least
   * {@link MIN_EVICTABLE_IDLE_MS}) among those `among` picks.
   */
  private evictLongestIdle(among: (c: Connection) => boolean, why: string): void {
    let oldest: Connection | undefined;
    for (const c of this.connections) {
      if (!among(c)) continue;
      const since = c.idleSince;
      if (since !== undefined && (oldest === undefined || since < (oldest.idleSince ?? Infinity))) oldest = c;
    }
    const since = oldest?.idleSince;
    if (oldest === undefined || since === undefined || performance.now() - since < (this.options.minEvictableIdleMs ?? MIN_EVICTABLE_IDLE_MS)) return;
    this.remove(oldest);
    oldest.expel('E_IDLE', `${why} and this one was idle longest; closing`);
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

/** A refused connection's reply is not lost to a request already on its way: the server half-closes, reads what comes, and closes when the client does (or after {@link REFUSED_LINGER_MS}). */
function refuse(socket: Socket, message: string): void {
  // Closing a unix socket with unread data makes the peer's next read fail with ECONNRESET
  // (net/unix/af_unix.c, unix_release_sock), which can cost the client the reply it was sent.
  const timer = setTimeout(() => socket.destroy(), REFUSED_LINGER_MS).unref();
  socket.on('error', () => socket.destroy());
  socket.on('close', () => clearTimeout(timer));
  socket.on('end', () => socket.destroy());
  socket.resume();
  socket.end(errorLine(null, new ServiceError('E_TOO_MANY_CONNECTIONS', message)));
}

function bump(counts: Map<number, number>, key: number, by: 1 | -1): void {
  const n = (counts.get(key) ?? 0) + by;
  if (n > 0) counts.set(key, n);
  else counts.delete(key);
}
