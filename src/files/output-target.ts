/**
 * Where we may write a file: never over what is not ours. Every command that writes a file
 * (`report --out`, `fit --out`, `export`, `watch --qmp-log`, spill files) checks its target
 * here first. An existing target that is not a regular file — a device node, a FIFO, a socket, a
 * directory, a symbolic link — is refused: a temp-file-and-rename would replace it (as root,
 * `/dev/full` became a regular file), and opening it would write into someone else's pipe or
 * device. A path that does not exist yet is fine.
 */
import { lstatSync, statSync, mkdirSync, renameSync, rmSync, writeFileSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';

/** An output path that exists and is not a regular file (code `E_OUTPUT_TARGET`). */
export class OutputTargetError extends Error {
  readonly code = 'E_OUTPUT_TARGET' as const;
  constructor(
    readonly path: string,
    readonly found: string,
    readonly expected: 'a regular file' | 'a directory',
    /** What names the path to the user, e.g. `--out`. */
    readonly what: string,
  ) {
    super(`${what}: '${path}' is ${found}, not ${expected}; refusing to write over it (remove it or choose another path)`);
    this.name = 'OutputTargetError';
  }
}

/** What `st` is, in words: "a FIFO", "a character device", ... */
export function fileKind(st: Stats): string {
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isFile()) return 'a regular file';
  return 'not a regular file';
}

function statOrUndefined(path: string, stat: (p: string) => Stats = lstatSync): Stats | undefined {
  try {
    return stat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/**
 * Throws {@link OutputTargetError} when `path` exists and is not a regular file (symbolic links
 * are not followed: a link is refused, whatever it points to). `what` names the path in the
 * message, e.g. `--out`.
 */
export function assertFileTarget(path: string, what: string): void {
  const st = statOrUndefined(path);
  if (st !== undefined && !st.isFile()) throw new OutputTargetError(path, fileKind(st), 'a regular file', what);
}

/**
 * Throws {@link OutputTargetError} when `path` exists and is not a directory. A link to a
 * directory is followed: files are written inside it, the link itself is never replaced.
 */
export function assertDirTarget(path: string, what: string): void {
  const st = statOrUndefined(path, statSync);
  if (st !== undefined && !st.isDirectory()) throw new OutputTargetError(path, fileKind(st), 'a directory', what);
}

/**
 * Writes `data` to `path` through a temporary file renamed over it, so a reader never sees half
 * a file, after refusing a target that is not a regular file ({@link assertFileTarget}). The
 * temporary file is created exclusively (a link planted at its name is not followed) and removed
 * when the write fails. Creates the folder.
 */
export function writeFileAtomic(path: string, data: string, what: string): void {
  assertFileTarget(path, what);
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, data, { flag: 'wx' });
    assertFileTarget(path, what); // again, just before replacing it
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
