/**
 * Who is at the other end of a connection: the peer's uid and pid (`SO_PEERCRED`), so the server
 * can give each local user and each process a share of its connection slots.
 *
 * Node has no API for `SO_PEERCRED` (a `getsockopt()` on the accepted socket's fd, unix(7)). The
 * choices were a sock_diag/`/proc` lookup — `/proc/net/unix` lists no peers, and sock_diag's
 * `UNIX_DIAG_PEER` needs a netlink socket Node cannot open either, so it means spawning `ss`
 * per connection and matching inodes, racy and slow — or a few lines of C. We take the C:
 * `native/peer-cred.c`, a Node-API module (ABI-stable, so one build serves every Node of that
 * Node-API level), compiled on the first `serve` with the system C compiler against Node's own
 * headers (`<prefix>/include/node/node_api.h`, which Node's installers ship) and cached outside
 * the package, keyed by the source and the platform. Building on first use rather than in an
 * npm install script keeps `npm ci`, `--omit=optional` and `--ignore-scripts` installs exactly as
 * they were; node-gyp would in addition fetch headers from nodejs.org unless `nodedir` is set.
 * Without a compiler or the headers the service runs with its global limit only, and `health`
 * says per-peer shares are off and why ({@link PeerCredReader}).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Socket } from 'node:net';

/** The credentials the kernel recorded when the peer called `connect()` (unix(7)). */
export interface PeerCredentials {
  readonly uid: number;
  readonly gid: number;
  /** 0 when the peer is in a pid namespace the server cannot see into (unix(7)). */
  readonly pid: number;
}

/** Reads a connected unix socket's peer, or says why it cannot. */
export type PeerCredReader =
  | { readonly available: true; readonly mechanism: string; read(socket: Socket): PeerCredentials | undefined }
  | { readonly available: false; readonly reason: string };

/** What `health` says of per-peer shares. */
export type PeerShareInfo =
  | { readonly enabled: true; readonly mechanism: string; readonly maxPerUid: number; readonly maxPerPid: number; readonly uids: number }
  | { readonly enabled: false; readonly reason: string };

export interface PeerCredBuildOptions {
  /** The C compiler. Default `$CC`, else `cc`. */
  readonly compiler?: string;
  /** Where the built module is kept. Default {@link peerCredCacheDir}. */
  readonly cacheDir?: string;
  /** Folders searched for `node_api.h`. Default: Node's own include folder. */
  readonly includeDirs?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
}

/** The C source, beside `src/` in the repository and beside `dist/` in the package. */
export const PEER_CRED_SOURCE = join(import.meta.dirname, '..', '..', 'native', 'peer-cred.c');

/** `$XDG_CACHE_HOME/vfio-sla/peer-cred`, else `~/.cache/vfio-sla/peer-cred`: outside the package. */
export function peerCredCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env['XDG_CACHE_HOME'];
  return join(xdg !== undefined && xdg !== '' ? xdg : join(homedir(), '.cache'), 'vfio-sla', 'peer-cred');
}

/** Where Node's headers are: `<node prefix>/include/node`, from its build config or its binary's path. */
function nodeIncludeDirs(): string[] {
  const prefix = (process.config.variables as Record<string, unknown>)['node_prefix'];
  const dirs = [join(dirname(dirname(process.execPath)), 'include', 'node')];
  if (typeof prefix === 'string' && prefix !== '') dirs.unshift(join(prefix, 'include', 'node'));
  return [...new Set(dirs)];
}

interface NativePeerCred {
  peerCred(fd: number): PeerCredentials;
}

/**
 * Builds (once per source and platform) and loads `native/peer-cred.c`; never throws: without
 * Linux, a compiler or Node's headers the answer is `available: false` with the reason.
 */
export function loadPeerCredReader(options: PeerCredBuildOptions = {}): PeerCredReader {
  if (process.platform !== 'linux') return unavailable(`SO_PEERCRED is read here on Linux only (this is ${process.platform})`);
  let source: string;
  try {
    source = readFileSync(PEER_CRED_SOURCE, 'utf8');
  } catch (e) {
    return unavailable(`cannot read ${PEER_CRED_SOURCE}: ${(e as Error).message}`);
  }
  const key = createHash('sha256').update(`${source}\0${process.platform}\0${process.arch}`).digest('hex').slice(0, 16);
  const dir = join(options.cacheDir ?? peerCredCacheDir(options.env), key);
  const built = join(dir, 'peer-cred.node');
  try {
    if (!existsSync(built)) {
      const include = (options.includeDirs ?? nodeIncludeDirs()).find((d) => existsSync(join(d, 'node_api.h')));
      if (include === undefined) {
        return unavailable(`Node's headers (node_api.h) are not in ${(options.includeDirs ?? nodeIncludeDirs()).join(' or ')}: install Node with its headers`);
      }
      build(options.compiler ?? options.env?.['CC'] ?? process.env['CC'] ?? 'cc', include, dir, built);
    }
    refuseForeignFile(built);
    const module = { exports: {} as Partial<NativePeerCred> };
    process.dlopen(module, built);
    const peerCred = module.exports.peerCred;
    if (typeof peerCred !== 'function') return unavailable(`${built} has no peerCred()`);
    return {
      available: true,
      mechanism: `SO_PEERCRED (${built})`,
      read(socket) {
        // Node keeps a unix socket's fd on its handle (pipe_wrap); not part of the public API, so
        // a missing one means an unknown peer rather than a failure.
        const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
        if (typeof fd !== 'number' || fd < 0) return undefined;
        try {
          return peerCred(fd);
        } catch {
          return undefined;
        }
      },
    };
  } catch (e) {
    return unavailable((e as Error).message);
  }
}

function unavailable(reason: string): PeerCredReader {
  return { available: false, reason: `per-peer connection shares are off: ${reason}` };
}

/** Compiles into a temporary file and renames it into place, so two servers starting at once never load half a file. */
function build(compiler: string, include: string, dir: string, built: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `peer-cred.${process.pid}.tmp.node`);
  try {
    execFileSync(compiler, ['-O2', '-shared', '-fPIC', '-std=c11', '-Wall', '-I', include, '-o', tmp, PEER_CRED_SOURCE], { stdio: ['ignore', 'ignore', 'pipe'] });
    renameSync(tmp, built);
  } catch (e) {
    rmSync(tmp, { force: true });
    const err = e as { code?: unknown; stderr?: Buffer; message: string };
    if (err.code === 'ENOENT') throw new Error(`no C compiler '${compiler}' (install gcc, or set CC)`);
    throw new Error(`building ${PEER_CRED_SOURCE} with ${compiler} failed: ${err.stderr?.toString().trim() || err.message}`);
  }
}

/** A module someone else could have written is not loaded into a root service. */
function refuseForeignFile(path: string): void {
  const uid = process.getuid?.();
  for (const [p, kind] of [[path, 'file'], [dirname(path), 'directory']] as const) {
    const st = lstatSync(p);
    if ((kind === 'file' ? !st.isFile() : !st.isDirectory()) || (uid !== undefined && st.uid !== uid) || (st.mode & 0o022) !== 0) {
      throw new Error(`${p} is not a ${kind} of ours alone (owner uid ${st.uid}, mode ${(st.mode & 0o777).toString(8)}): not loading it`);
    }
  }
}
