/**
 * Line framing for QMP. QEMU ends every JSON message it sends with `\r\n`
 * (`monitor/qmp.c`, `qmp_send_response`); a socket read may hold part of a message or several.
 * This splitter turns arbitrary chunks into whole lines, without the terminator.
 */

/** Accumulates decoded text chunks and yields complete lines. */
export class LineSplitter {
  private pending = '';

  /**
   * @param maxLineChars a line longer than this is a protocol error (QEMU's largest normal
   *   reply, `query-qmp-schema`, is a few hundred KiB).
   */
  constructor(readonly maxLineChars = 64 * 1024 * 1024) {}

  /**
   * Feeds one chunk; returns the lines it completed, `\r\n` or `\n` stripped, blank lines
   * skipped. Throws `RangeError` when an unterminated line exceeds `maxLineChars`.
   */
  push(chunk: string): string[] {
    const lines: string[] = [];
    const text = this.pending + chunk;
    let start = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
      const end = nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      const line = text.slice(start, end);
      if (line.trim().length > 0) lines.push(line);
      start = nl + 1;
    }
    const rest = start === 0 ? text : text.slice(start);
    if (rest.length > this.maxLineChars) {
      this.pending = '';
      throw new RangeError(`QMP line longer than ${this.maxLineChars} characters without a newline`);
    }
    this.pending = rest;
    return lines;
  }

  /** Characters of an incomplete line held back. */
  get pendingChars(): number {
    return this.pending.length;
  }

  /** Drops any partial line (on reconnect: a new stream starts). */
  reset(): void {
    this.pending = '';
  }
}
