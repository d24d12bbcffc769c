/**
 * The socket file: who may connect, and never two servers on one path.
 *
 * The server binds in a fresh private directory (`mkdtemp`, mode 0700), sets the socket's mode
 * (0600, or 0660 and the operator's group) and only then links it to its public path with
 * `link(2)`, which fails if the path exists. So the socket never exists at its path with a wider
 * mode than asked (no umask/chmod window), and two servers racing for one path cannot both win.
 * On Linux, `connect(2)` needs write permission on the socket file, so 0600 is "this user only".
 *
 * A path that exists already is probed: a live server answering there refuses the start
 * (`E_SOCKET_IN_USE`); a socket nobody answers on is a stale one from a crash and is removed;
 * anything that is not a socket is left alone (`E_SOCKET_PATH`).
 */
import { chmodSync, chownSync, existsSync, linkSync, lstatSync, mkdtempSync, rmdirSync, unlinkSync } from 'node:fs';
import { connect, type Server } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { ServiceError } from './errors.js';

/**
 * Longest unix socket path, bytes: `sun_path` of `struct sockaddr_un` is 108 bytes on Linux,
 * NUL included (`include/uapi/linux/un.h`, `UNIX_PATH_MAX`). A longer path would be bound
 * through its short temporary name and linked, "listening" where no client can connect.
 */
export const MAX_SOCKET_PATH_BYTES = 107;

/** Throws `E_SOCKET_PATH` when `path` is too long to be a unix socket address. */
export function checkSocketPathLength(path: string): void {
  const n = Buffer.byteLength(path);
  if (n > MAX_SOCKET_PATH_BYTES) {
    throw new ServiceError('E_SOCKET_PATH', `${path} is ${n} bytes; a unix socket path is at most ${MAX_SOCKET_PATH_BYTES} bytes (choose a shorter one)`);
  }
}

/** How the socket file is made. */
export interface SocketMode {
  /** Group id to own the socket (then mode 0660); undefined: 0600, the user's group. */
  readonly gid?: number | undefined;
}

/** The socket as bound: its path and inode (so we remove only our own file). */
export interface BoundSocket {
  readonly path: string;
  readonly ino: number;
  readonly mode: number;
}

/**
 * `live` when something accepts a connection on `path`, `stale` only when the kernel says
 * nobody listens (`ECONNREFUSED`), else the error code. `ENOENT` on a path that exists is not
 * "stale": the connect did not reach that file (a path too long for `sun_path` was cut short),
 * so nothing is known about the server there.
 */
function probe(path: string): Promise<'live' | 'stale' | string> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve('live');
    });
    socket.once('error', (e: NodeJS.ErrnoException) =>
      resolve(e.code === 'ECONNREFUSED' ? 'stale' : (e.code ?? e.message)),
    );
  });
}

/**
 * Makes `path` free to bind: refuses a live server or a non-socket, removes a stale socket
 * (one that refuses connections). A socket it may not probe (EACCES: another user's) is left alone.
 */
export async function clearStaleSocket(path: string): Promise<void> {
  checkSocketPathLength(path);
  let stat;
  try {
    stat = lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new ServiceError('E_SOCKET_PATH', `${path}: ${(e as Error).message}`, undefined, { cause: e });
  }
  if (!stat.isSocket()) throw new ServiceError('E_SOCKET_PATH', `${path} exists and is not a socket; not touching it`);
  const state = await probe(path);
  if (state === 'live') throw new ServiceError('E_SOCKET_IN_USE', `a server is already answering on ${path}`);
  if (state === 'ENOENT' && !existsSync(path)) return; // removed while we probed
  if (state !== 'stale') throw new ServiceError('E_SOCKET_PATH', `${path} exists and cannot be probed (${state}); not touching it`);
  try {
    // Only the file we probed: a server that bound the path meanwhile keeps its socket.
    if (lstatSync(path).ino !== stat.ino) throw new ServiceError('E_SOCKET_IN_USE', `another server took ${path} while this one started`);
    unlinkSync(path);
  } catch (e) {
    if (e instanceof ServiceError) throw e;
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new ServiceError('E_SOCKET_PATH', `cannot remove stale socket ${path}: ${(e as Error).message}`);
  }
}

function listenOn(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error): void => reject(e);
    server.once('error', onError);
    server.listen(path, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** Binds `server` to `path` with its final mode and group in place before the path appears. */
export async function listenExclusive(server: Server, path: string, mode: SocketMode): Promise<BoundSocket> {
  await clearStaleSocket(path);
  let dir: string;
  try {
    // A short temporary name: bound through it, a path of up to 107 bytes must fit too.
    dir = mkdtempSync(join(dirname(path), `.${basename(path).slice(0, 1)}-`));
  } catch (e) {
    throw new ServiceError('E_SOCKET_PATH', `cannot create the socket in ${dirname(path)}: ${(e as Error).message}`, undefined, { cause: e });
  }
  const tmp = join(dir, 's');
  const fileMode = mode.gid === undefined ? 0o600 : 0o660;
  try {
    await listenOn(server, tmp);
    chmodSync(tmp, fileMode);
    if (mode.gid !== undefined) chownSync(tmp, -1, mode.gid);
    linkSync(tmp, path);
  } catch (e) {
    server.close();
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new ServiceError('E_SOCKET_IN_USE', `another server took ${path} while this one started`, undefined, { cause: e });
    throw new ServiceError('E_SOCKET_PATH', `cannot bind ${path}: ${(e as Error).message}`, undefined, { cause: e });
  } finally {
    removeQuietly(tmp);
    try {
      rmdirSync(dir);
    } catch {
      // Not empty only if the unlink above failed; nothing more to do about it.
    }
  }
  return { path, ino: lstatSync(path).ino, mode: fileMode };
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone.
  }
}

/** Removes the socket file if it is still ours (a successor may have bound the path since). */
export function removeSocket(bound: BoundSocket): void {
  try {
    if (lstatSync(bound.path).ino === bound.ino) unlinkSync(bound.path);
  } catch {
    // Gone already.
  }
}
