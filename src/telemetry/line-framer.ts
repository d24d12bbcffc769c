/**
 * The one line splitter of vfio-sla: the service's connections, the QMP client
 * (`qemu/qmp-framing.ts`, whose `LineSplitter` also reads `watch`'s VFIO traces), the VFIO
 * helper client and the JSON-lines importer (`import-files.ts`) all frame their bytes with it. Every byte is scanned once (`indexOf` from where the last scan stopped, never from the
 * start of an unfinished line again), so a 50 MB line costs what 50 MB of short lines cost.
 *
 * Splits one byte stream into lines, holding at most `maxLineBytes` of an
 * unfinished line. A longer line is reported once as {@link TOO_LARGE} as soon as it crosses
 * the limit (so the client hears about it without sending the rest), and everything up to its
 * newline is dropped as it arrives: a hostile client cannot make the server hold more than the
 * limit, and the line after the oversized one is served normally.
 *
 * Pull-based, so the connection can stop between lines when its client does not read replies
 * (backpressure): `push()` a chunk, then call `next()` until it returns `undefined`.
 */

/** Returned by {@link LineFramer.next} for a line over the limit. */
export const TOO_LARGE: unique symbol = Symbol('too-large');

const NEWLINE = 0x0a;

export class LineFramer {
  /** Unread input: chunks, the first read from `offset` on. */
  private readonly chunks: Buffer[] = [];
  private offset = 0;
  /**
   * The unfinished line, copied into one buffer that doubles as needed: a client trickling one
   * byte per packet must not make us hold a million tiny Buffer objects.
   */
  private partial: Buffer = Buffer.alloc(0);
  private partialBytes = 0;
  /** Dropping an oversized line up to its newline. */
  private discarding = false;

  constructor(readonly maxLineBytes: number) {}

  /** Bytes held: unread chunks and the unfinished line (for tests and health). */
  get bufferedBytes(): number {
    let n = this.partialBytes - this.offset;
    for (const c of this.chunks) n += c.length;
    return n;
  }

  push(chunk: Buffer): void {
    if (chunk.length > 0) this.chunks.push(chunk);
  }

  /** Drops everything buffered (a new stream starts, e.g. on reconnect). */
  reset(): void {
    this.chunks.length = 0;
    this.offset = 0;
    this.takePartial();
    this.discarding = false;
  }

  /**
   * The next complete line (without `\n`), {@link TOO_LARGE} for one over the limit, or
   * `undefined` when no complete line is buffered.
   */
  next(): Buffer | typeof TOO_LARGE | undefined {
    for (;;) {
      const chunk = this.chunks[0];
      if (chunk === undefined) return undefined;
      const nl = chunk.indexOf(NEWLINE, this.offset);
      const end = nl === -1 ? chunk.length : nl;
      const piece = chunk.subarray(this.offset, end);
      if (nl === -1 || nl + 1 === chunk.length) {
        this.chunks.shift();
        this.offset = 0;
      } else {
        this.offset = nl + 1;
      }
      if (this.discarding) {
        if (nl !== -1) this.discarding = false;
        continue;
      }
      if (this.partialBytes + piece.length > this.maxLineBytes) {
        this.takePartial();
        this.discarding = nl === -1;
        return TOO_LARGE;
      }
      if (nl === -1) {
        this.append(piece);
        continue;
      }
      if (this.partialBytes === 0) return piece;
      this.append(piece);
      return this.takePartial();
    }
  }

  /**
   * At the client's end-of-stream: the unterminated last line, if one is buffered (whole, not
   * an oversized one being dropped). Call after `next()` returned `undefined`.
   */
  rest(): Buffer | undefined {
    if (this.discarding || this.partialBytes === 0) {
      this.discarding = false;
      return undefined;
    }
    return this.takePartial();
  }

  /** The unfinished line's bytes; the line keeps the buffer, the next one starts a new one. */
  private takePartial(): Buffer {
    const line = this.partial.subarray(0, this.partialBytes);
    this.partial = Buffer.alloc(0);
    this.partialBytes = 0;
    return line;
  }

  private append(piece: Buffer): void {
    const need = this.partialBytes + piece.length;
    if (need > this.partial.length) {
      const grown = Buffer.allocUnsafe(Math.min(this.maxLineBytes, Math.max(need, 2 * this.partial.length, 4096)));
      this.partial.copy(grown, 0, 0, this.partialBytes);
      this.partial = grown;
    }
    piece.copy(this.partial, this.partialBytes);
    this.partialBytes = need;
  }
}
