/**
 * Small C modules built on first use with the system C compiler and cached outside the package
 * (`native/*.c`: the service's peer credentials, the store's column reader).
 *
 * Building on first use rather than in an npm install script keeps `npm ci`, `--omit=optional`
 * and `--ignore-scripts` installs exactly as they were; node-gyp would in addition fetch headers
 * from nodejs.org unless `nodedir` is set. A build is keyed by its source, the platform and
 * whatever else it was compiled against (e.g. SQLite's version), so a changed source or an
 * upgraded dependency gets a build of its own. Nothing here throws: without a compiler or the
 * headers the answer says why, and the caller falls back (and says so where a user looks).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { threadId } from 'node:worker_threads';

/** How a native module is built and where it is kept. */
export interface NativeBuildOptions {
  /** The C compiler. Default `$CC`, else `cc`. */
  readonly compiler?: string;
  /** The folder of this module's builds (one subfolder per key). Default {@link nativeCacheDir}. */
  readonly cacheDir?: string;
  readonly env?: NodeJS.ProcessEnv;
}

/** One C module: its source and what it is compiled against. */
export interface NativeModule {
  /** Cache folder and file name, e.g. `peer-cred`. */
  readonly name: string;
  /** File name extension of the built module: `.node` (Node-API) or `.so` (a SQLite extension). */
  readonly suffix: '.node' | '.so';
  /** Absolute path of the C source ({@link nativeSource}). */
  readonly source: string;
  /** The header the source needs, looked for in {@link includeDirs}. */
  readonly header: string;
  readonly includeDirs: readonly string[];
  /** What to tell a user when {@link header} is in none of {@link includeDirs}. */
  readonly missingHeader: string;
  /** More of what the build depends on beyond source and platform (e.g. `sqlite 3.53.2`). */
  readonly key?: string;
}

/** A loaded module, or why there is none. */
export type NativeLoad<T> = { readonly ok: true; readonly value: T; readonly path: string } | { readonly ok: false; readonly reason: string };

/** `$XDG_CACHE_HOME/vfio-sla/<name>`, else `~/.cache/vfio-sla/<name>`: outside the package. */
export function nativeCacheDir(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env['XDG_CACHE_HOME'];
  return join(xdg !== undefined && xdg !== '' ? xdg : join(homedir(), '.cache'), 'vfio-sla', name);
}

/**
 * `native/<file>` of the package: beside `src/` in the repository and beside `dist/` in the
 * package (`<root>/{src,dist}/package/`), or two levels up in the benchmarks' build
 * (`<root>/dist-bench/src/package/`).
 */
export function nativeSource(file: string): string {
  const candidates = [join(import.meta.dirname, '..', '..', 'native', file), join(import.meta.dirname, '..', '..', '..', 'native', file)];
  return candidates.find((p) => existsSync(p)) ?? (candidates[0] as string);
}

/**
 * Builds `module` (once per key) and loads it with `load`; never throws. A cached build that
 * fails to load (a truncated or corrupt file) is removed and built again once.
 */
export function loadNative<T>(module: NativeModule, options: NativeBuildOptions, load: (path: string) => T): NativeLoad<T> {
  let source: string;
  try {
    source = readFileSync(module.source, 'utf8');
  } catch (e) {
    return { ok: false, reason: `cannot read ${module.source}: ${(e as Error).message}` };
  }
  const key = createHash('sha256').update(`${source}\0${process.platform}\0${process.arch}\0${module.key ?? ''}`).digest('hex').slice(0, 16);
  const dir = join(options.cacheDir ?? nativeCacheDir(module.name, options.env), key);
  const built = join(dir, `${module.name}${module.suffix}`);
  const compiler = options.compiler ?? options.env?.['CC'] ?? process.env['CC'] ?? 'cc';
  const buildIt = (): string | undefined => {
    const include = module.includeDirs.find((d) => existsSync(join(d, module.header)));
    if (include === undefined) return module.missingHeader;
    build(module, compiler, include, dir, built);
    return undefined;
  };
  try {
    const cached = existsSync(built);
    if (!cached) {
      const missing = buildIt();
      if (missing !== undefined) return { ok: false, reason: missing };
    }
    refuseForeignFile(built);
    try {
      return { ok: true, value: load(built), path: built };
    } catch (e) {
      if (!cached) throw e;
      // Ours (checked above) but not loadable: a build cut short, a disk error. Build it again.
      rmSync(built, { force: true });
      let missing: string | undefined;
      try {
        missing = buildIt();
      } catch (b) {
        missing = (b as Error).message;
      }
      if (missing !== undefined) return { ok: false, reason: `${built} did not load (${(e as Error).message}) and cannot be rebuilt: ${missing}` };
      refuseForeignFile(built);
      return { ok: true, value: load(built), path: built };
    }
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
}

/** Compiles into a temporary file and renames it into place, so two builds at once never load half a file. */
function build(module: NativeModule, compiler: string, include: string, dir: string, built: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // Per process and thread: the service fits in a worker thread of its own process.
  const tmp = join(dir, `${module.name}.${process.pid}.${threadId}.tmp${module.suffix}`);
  try {
    execFileSync(compiler, ['-O2', '-shared', '-fPIC', '-std=c11', '-Wall', '-I', include, '-o', tmp, module.source], { stdio: ['ignore', 'ignore', 'pipe'] });
    renameSync(tmp, built);
  } catch (e) {
    rmSync(tmp, { force: true });
    const err = e as { code?: unknown; stderr?: Buffer; message: string };
    if (err.code === 'ENOENT') throw new Error(`no C compiler '${compiler}' (install gcc, or set CC)`);
    throw new Error(`building ${module.source} with ${compiler} failed: ${err.stderr?.toString().trim() || err.message}`);
  }
}

/**
 * A module someone else could have written is not loaded (the service may run as root): the file
 * and its directory must be ours alone, and no directory above them writable by others — whoever
 * can rename an entry of an ancestor could swap the module's directory between this check and
 * the load. An ancestor may be root's, or writable by all with the sticky bit (`/tmp`: only an
 * entry's owner may rename it). The ancestors are those of the real path (a symbolic link on the
 * way, such as a home on another mount, is followed).
 */
function refuseForeignFile(path: string): void {
  const uid = process.getuid?.();
  for (const [p, kind] of [[path, 'file'], [dirname(path), 'directory']] as const) {
    const st = lstatSync(p);
    if ((kind === 'file' ? !st.isFile() : !st.isDirectory()) || (uid !== undefined && st.uid !== uid) || (st.mode & 0o022) !== 0) {
      throw new Error(`${p} is not a ${kind} of ours alone (owner uid ${st.uid}, mode ${(st.mode & 0o777).toString(8)}): not loading it`);
    }
  }
  for (let dir = dirname(realpathSync(dirname(path))); ; ) {
    const st = statSync(dir);
    const owner = uid === undefined || st.uid === uid || st.uid === 0;
    const othersMayRename = (st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0;
    if (!owner || othersMayRename) {
      throw new Error(`${dir}, above ${path}, could be changed by others (owner uid ${st.uid}, mode ${(st.mode & 0o7777).toString(8)}): not loading it`);
    }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
}
