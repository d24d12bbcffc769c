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
 * the package, keyed by the source and the platform (`package/native-build.ts`, which says why
 * at first use and not in an install script). Without a compiler or the headers the service runs with its global limit only, and `health`
 * says per-peer shares are off and why ({@link PeerCredReader}).
 */
import { dirname, join } from 'node:path';
import type { Socket } from 'node:net';
import { loadNative, nativeCacheDir, nativeSource, type NativeBuildOptions } from '../package/native-build.js';

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

export interface PeerCredBuildOptions extends NativeBuildOptions {
  /** Folders searched for `node_api.h`. Default: Node's own include folder. */
  readonly includeDirs?: readonly string[];
}

/** The C source, beside `src/` in the repository and beside `dist/` in the package ({@link nativeSource}). */
export const PEER_CRED_SOURCE = nativeSource('peer-cred.c');

/** `$XDG_CACHE_HOME/vfio-sla/peer-cred`, else `~/.cache/vfio-sla/peer-cred`: outside the package. */
export function peerCredCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return nativeCacheDir('peer-cred', env);
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
  const includeDirs = options.includeDirs ?? nodeIncludeDirs();
  const module = {
    name: 'peer-cred',
    suffix: '.node',
    source: PEER_CRED_SOURCE,
    header: 'node_api.h',
    includeDirs,
    missingHeader: `Node's headers (node_api.h) are not in ${includeDirs.join(' or ')}: install Node with its headers`,
  } as const;
  const loaded = loadNative(module, options, (built) => {
    const m = { exports: {} as Partial<NativePeerCred> };
    process.dlopen(m, built);
    const peerCred = m.exports.peerCred;
    if (typeof peerCred !== 'function') throw new Error(`${built} has no peerCred()`);
    return peerCred;
  });
  if (!loaded.ok) return unavailable(loaded.reason);
  const peerCred = loaded.value;
  return {
    available: true,
    mechanism: `SO_PEERCRED (${loaded.path})`,
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
}

function unavailable(reason: string): PeerCredReader {
  return { available: false, reason: `per-peer connection shares are off: ${reason}` };
}
