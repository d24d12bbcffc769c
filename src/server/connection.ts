/**
 * One client connection: bytes → lines (capped) → the service → reply lines, with the
 * protections that keep one client from hurting the others:
 * - a line over the limit gets `E_TOO_LARGE` and is dropped up to its newline (line-framer.ts);
 * - a client that does not read its replies is not read from either: when the socket's write
 *   buffer is full the connection stops reading (`pause`) until it drains, so the server never
 *   buffers more than one reply past the high-water mark for it;
 * - at most {@link MAX_PENDING_PER_CONNECTION} slow requests (`fit`, `record` with `flush`)
 *   wait per connection; beyond that the connection stops reading until one finishes;
 * - a client that sends half a line and stalls costs its buffer and nothing else: every
 *   connection is event-driven, no request waits for another connection's bytes;
 * - a client pipelining many requests is served {@link LINES_PER_TURN} lines at a time,
 *   taking turns with the other connections.
 * - a connection with nothing in flight that sends nothing for the idle timeout is closed
 *   (`E_IDLE`), and so is the longest-idle one when the server is full and another client comes;
 * - a request line not completed within the line timeout (bytes trickled to hold a slot) is
 *   answered `E_TIMEOUT` and the connection closed;
 * - the connection taken in the server's reserved slot (all others busy) serves `health` only.
 * Blank lines are ignored; `\r\n` endings are accepted; an unterminated last line before the
 * client's end-of-stream is served.
 */
import type { Socket } from 'node:net';
import { ServiceError } from './errors.js';
import { LineFramer, TOO_LARGE } from '../telemetry/line-framer.js';
import { errorLine } from './protocol.js';
import type { Service } from './service.js';

/** Slow requests one connection may have waiting before it is no longer read from. */
export const MAX_PENDING_PER_CONNECTION = 16;

/**
 * Lines served from one connection before yielding the event loop to the others: a client
 * pipelining a 64 KiB chunk of requests delays another client's `decide` by a few hundred
 * microseconds at most, not by the whole chunk.
 */
export const LINES_PER_TURN = 32;

const CR = 0x0d;

/** Limits of one connection (see the module comment). */
export interface ConnectionLimits {
  readonly maxLineBytes: number;
  /** Nothing in flight and nothing received for this long: closed with `E_IDLE`, ms. */
  readonly idleTimeoutMs: number;
  /** An unfinished request line older than this: `E_TIMEOUT` and closed, ms. */
  readonly lineTimeoutMs: number;
  /** The reserved slot: answer `health`, refuse anything else with `E_TOO_MANY_CONNECTIONS`. */
  readonly healthOnly?: boolean;
}

export class Connection {
  /** Resolves when the socket has closed. */
  readonly closed: Promise<void>;
  private readonly framer: LineFramer;
  private lineNo = 0;
  /** The write buffer is full: wait for 'drain'. */
  private isBlocked = false;
  private pending = 0;
  /** The client ended its side: serve what is buffered, then end ours. */
  private readEnded = false;
  /** The server is shutting down: no new requests; end once pending replies are out. */
  private draining = false;
  private reading = true;
  /** A pump is scheduled for the next turn of the event loop (see {@link LINES_PER_TURN}). */
  private yielded = false;
  /** Since when the connection has had nothing in flight and nothing buffered (`performance.now()`), or undefined. */
  private idleFrom: number | undefined;
  private lineTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly socket: Socket,
    readonly id: number,
    private readonly service: Service,
    private readonly limits: ConnectionLimits,
  ) {
    this.framer = new LineFramer(limits.maxLineBytes);
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        clearTimeout(this.lineTimer);
        clearTimeout(this.idleTimer);
        resolve();
      }),
    );
    socket.on('data', (chunk: Buffer) => {
      this.framer.push(chunk);
      this.pump();
    });
    this.watchTimers();
    socket.on('drain', () => {
      this.isBlocked = false;
      this.pump();
    });
    socket.on('end', () => {
      this.readEnded = true;
      this.pump();
    });
    // ECONNRESET, EPIPE: the client went away; 'close' follows.
    socket.on('error', () => socket.destroy());
  }

  /** True while its client does not read its replies (the connection is not read from). */
  get blocked(): boolean {
    return this.isBlocked;
  }

  /** Request bytes read from the client and not yet served (an unfinished line, unserved lines). */
  get bufferedBytes(): number {
    return this.framer.bufferedBytes;
  }

  /** Stops taking requests; resolves when pending replies are written and the socket closed. */
  drain(): Promise<void> {
    this.draining = true;
    this.pump();
    return this.closed;
  }

  /** Closes the socket now, replies or not (a client that never reads, at the drain deadline). */
  destroy(): void {
    this.socket.destroy();
  }

  /** `performance.now()` since which the connection has been idle, or undefined while it is busy. */
  get idleSince(): number | undefined {
    return this.idleFrom;
  }

  /** Says why and closes the connection (idle, or a line that never completes). */
  expel(code: 'E_IDLE' | 'E_TIMEOUT', message: string): void {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    this.draining = true;
    this.setReading(false);
    this.socket.end(errorLine(null, new ServiceError(code, message)), () => this.socket.destroy());
  }

  /**
   * Re-arms the idle and line timers from the connection's state: idle when nothing is in
   * flight or buffered; a line timer while an unfinished line waits and the client is not
   * merely slow to read our replies (that is backpressure, not an attack).
   */
  private watchTimers(): void {
    if (this.socket.destroyed) return;
    const buffered = this.framer.bufferedBytes > 0;
    const idle = !buffered && this.pending === 0 && !this.isBlocked;
    if (idle) {
      if (this.idleFrom === undefined) {
        this.idleFrom = performance.now();
        clearTimeout(this.idleTimer);
        this.idleTimer = setTimeout(() => this.expel('E_IDLE', `no request for ${this.limits.idleTimeoutMs} ms; closing`), this.limits.idleTimeoutMs);
        this.idleTimer.unref();
      }
    } else {
      this.idleFrom = undefined;
      clearTimeout(this.idleTimer);
    }
    if (buffered && this.pending === 0 && !this.isBlocked) {
      if (this.lineTimer === undefined) {
        this.lineTimer = setTimeout(
          () => this.expel('E_TIMEOUT', `request line ${this.lineNo + 1} not completed within ${this.limits.lineTimeoutMs} ms; closing`),
          this.limits.lineTimeoutMs,
        );
        this.lineTimer.unref();
      }
    } else {
      clearTimeout(this.lineTimer);
      this.lineTimer = undefined;
    }
  }

  private pump(): void {
    // A client that reset the connection gets no replies: serve nothing more for it.
    if (this.yielded || this.socket.destroyed) return;
    let exhausted = false;
    let served = 0;
    while (!this.isBlocked && !this.draining && this.pending < MAX_PENDING_PER_CONNECTION) {
      if (served++ === LINES_PER_TURN) {
        this.yielded = true;
        setImmediate(() => {
          this.yielded = false;
          this.pump();
        });
        break;
      }
      const line = this.framer.next();
      if (line === undefined) {
        exhausted = true;
        break;
      }
      this.lineNo++;
      if (line === TOO_LARGE) {
        this.write(errorLine(null, new ServiceError('E_TOO_LARGE', `request line ${this.lineNo} is over ${this.framer.maxLineBytes} bytes; dropped up to its newline`)));
      } else {
        this.serve(line);
      }
    }
    if (exhausted && this.readEnded) this.serveLastLine();
    this.setReading(!this.isBlocked && !this.draining && !this.readEnded && !this.yielded && this.pending < MAX_PENDING_PER_CONNECTION);
    const done = this.draining || (exhausted && this.readEnded);
    // Once our last bytes are out, close outright: a client that keeps its side open must not
    // hold the server's shutdown.
    if (done && this.pending === 0 && !this.socket.writableEnded) this.socket.end(() => this.socket.destroy());
    this.watchTimers();
  }

  private serveLastLine(): void {
    const rest = this.framer.rest();
    if (rest === undefined) return;
    this.lineNo++;
    this.serve(rest);
  }

  private serve(bytes: Buffer): void {
    const end = bytes.length > 0 && bytes[bytes.length - 1] === CR ? bytes.length - 1 : bytes.length;
    const line = bytes.toString('utf8', 0, end);
    if (line.trim().length === 0) return;
    if (this.limits.healthOnly === true && !isHealthRequest(line)) {
      this.write(errorLine(null, new ServiceError('E_TOO_MANY_CONNECTIONS', 'the server is full; this reserved connection answers health only')));
      return;
    }
    const reply = this.service.handleLine(line, { connectionId: this.id, line: this.lineNo });
    if (typeof reply === 'string') {
      this.write(reply);
      return;
    }
    this.pending++;
    void reply.then((text) => {
      this.pending--;
      this.write(text);
      this.pump();
    });
  }

  private write(text: string): void {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    if (!this.socket.write(text)) this.isBlocked = true;
  }

  private setReading(on: boolean): void {
    if (on === this.reading) return;
    this.reading = on;
    if (on) this.socket.resume();
    else this.socket.pause();
  }
}

/** True for a line that asks for `health` (the one method the reserved slot serves). */
function isHealthRequest(line: string): boolean {
  try {
    const v = JSON.parse(line) as unknown;
    return typeof v === 'object' && v !== null && (v as { method?: unknown }).method === 'health';
  } catch {
    return false;
  }
}
