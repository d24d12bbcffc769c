/**
 * The spill file: where batches wait on disk, as JSON lines, while the store is faulted and the
 * in-memory queue is full. Synchronous I/O on purpose: the pipeline is single-threaded and the
 * file must stay in FIFO order with the memory queue. One line = one batch
 * (`{"lastSeq":n,"items":[...]}`), so a line read back is a batch ready to write.
 */
import { closeSync, constants, existsSync, fstatSync, lstatSync, openSync, readSync, readdirSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { assertFileTarget, fileKind, OutputTargetError } from '../files/output-target.js';

const READ_CHUNK_BYTES = 1 << 20;

/** An append-at-the-end, read-from-the-front JSONL file. */
export class SpillFile {
  private fd: number | null = null;
  private readPos = 0;
  /** Lines appended and not yet read back. */
  private unread = 0;
  private readonly chunk = Buffer.allocUnsafe(READ_CHUNK_BYTES);

  /**
   * @param path the file; created on first append.
   * @param existing open a file another process left behind: every line in it is unread.
   */
  constructor(
    readonly path: string,
    existing = false,
  ) {
    if (existing) {
      // Not through a link planted at the name since it was listed (orphanSpillFiles), and only a file.
      this.fd = openSync(path, constants.O_RDWR | constants.O_APPEND | constants.O_NOFOLLOW | constants.O_NONBLOCK);
      const st = fstatSync(this.fd);
      if (!st.isFile()) {
        closeSync(this.fd);
        throw new OutputTargetError(path, fileKind(st), 'a regular file', 'spill file');
      }
      this.unread = Number.POSITIVE_INFINITY; // unknown until read to the end
    }
  }

  /** True when every appended line has been read back. */
  get isEmpty(): boolean {
    return this.unread === 0;
  }

  /** Appends one line (no newline inside). Throws on I/O errors (disk full, permissions). */
  append(line: string): void {
    if (this.fd === null) {
      assertFileTarget(this.path, 'spill file'); // never append into a link, FIFO or device planted at our name
      this.fd = openSync(this.path, 'a+');
    }
    writeSync(this.fd, line + '\n');
    this.unread++;
  }

  /**
   * The next unread line, or `undefined` at the end. A last line without its newline (a crash
   * mid-write) is never returned: nothing in it was acknowledged.
   */
  readLine(): string | undefined {
    if (this.fd === null || this.unread === 0) return undefined;
    const parts: Buffer[] = [];
    let pos = this.readPos;
    for (;;) {
      const n = readSync(this.fd, this.chunk, 0, READ_CHUNK_BYTES, pos);
      if (n === 0) {
        this.unread = 0;
        return undefined;
      }
      const nl = this.chunk.indexOf(10);
      if (nl >= 0 && nl < n) {
        parts.push(Buffer.from(this.chunk.subarray(0, nl)));
        this.readPos = pos + nl + 1;
        this.unread--;
        return Buffer.concat(parts).toString('utf8');
      }
      parts.push(Buffer.from(this.chunk.subarray(0, n)));
      pos += n;
    }
  }

  /** Closes the file and deletes it (everything in it is committed). */
  remove(): void {
    this.close();
    if (existsSync(this.path)) unlinkSync(this.path);
    this.readPos = 0;
    this.unread = 0;
  }

  /** Closes the file and keeps it on disk for the next process. */
  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

/** `<db>.spill-<pid>.jsonl`: one spill file per process, so two writers never share one. */
export function spillPathFor(dbPath: string, pid: number = process.pid): string {
  return `${dbPath}.spill-${pid}.jsonl`;
}

function isRegularFile(path: string): boolean {
  try {
    return lstatSync(path).isFile();
  } catch {
    return false;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Spill files of `dbPath` left by processes that are gone: their records still need writing. */
export function orphanSpillFiles(dbPath: string): string[] {
  const dir = dirname(dbPath);
  const prefix = `${basename(dbPath)}.spill-`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.jsonl')) continue;
    const pid = Number(name.slice(prefix.length, -'.jsonl'.length));
    // Only regular files: a link or FIFO planted at such a name is not ours to read (a link could
    // feed someone's file into the rejects table, a FIFO would block the replay) nor to remove.
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && !isAlive(pid) && isRegularFile(join(dir, name))) out.push(join(dir, name));
  }
  return out.sort();
}
