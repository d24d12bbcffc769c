/**
 * Line framing for QMP. QEMU ends every JSON message it sends with `\r\n`
 * (`monitor/qmp.c`, `qmp_send_response`); a socket read may hold part of a message or several.
 * This splitter turns arbitrary chunks into whole lines, without the terminator, with the
 * shared linear {@link LineFramer} (`telemetry/line-framer.ts`).
 */
import { LineFramer, TOO_LARGE } from '../telemetry/line-framer.js';

/** Accumulates chunks and yields complete lines. */
export class LineSplitter {
  private readonly framer: LineFramer;

  /**
   * @param maxLineBytes a longer line is a protocol error (QEMU's largest normal reply,
   *   `query-qmp-schema`, is a few hundred KiB).
   */
  constructor(readonly maxLineBytes = 64 * 1024 * 1024) {
    this.framer = new LineFramer(maxLineBytes);
  }

  /**
   * Feeds one chunk; returns the lines it completed, `\r\n` or `\n` stripped, blank lines
   * skipped. Throws `RangeError` as soon as a line exceeds `maxLineBytes`.
   */
  push(chunk: Buffer | string): string[] {
    this.framer.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
    const lines: string[] = [];
    for (let line = this.framer.next(); line !== undefined; line = this.framer.next()) {
      if (line === TOO_LARGE) {
        this.framer.reset();
        throw new RangeError(`QMP line longer than ${this.maxLineBytes} bytes`);
      }
      const text = line.toString('utf8', 0, line.length > 0 && line[line.length - 1] === 13 ? line.length - 1 : line.length);
      if (text.trim().length > 0) lines.push(text);
    }
    return lines;
  }

  /** Bytes of an incomplete line held back. */
  get pendingBytes(): number {
    return this.framer.bufferedBytes;
  }

  /** Drops any partial line (on reconnect: a new stream starts). */
  reset(): void {
    this.framer.reset();
  }
}
