/**
 * Time for the simulator: a discrete-event virtual clock. Nothing really sleeps; thousands of
 * migrations run per second, and the same code runs unchanged against a real-time clock.
 */
import { SimError } from './errors.js';

/**
 * A source of time that code taking time (a device arc, a transfer) awaits. The governor and
 * the simulators take one as a parameter, so they run on the {@link VirtualClock} in tests and
 * simulation and on a real clock (e.g. `performance.now()` plus `setTimeout`) in production.
 */
export interface Clock {
  /** Current time in ms (float). Monotonic. */
  readonly nowMs: number;
  /** Resolves once `ms` of this clock's time have passed. */
  sleep(ms: number): Promise<void>;
}

/**
 * Virtual time with real concurrency semantics.
 *
 * **How time passes.** `sleep(ms)` registers a wake-up at `nowMs + ms` and returns a promise.
 * Time never moves while JavaScript still has work queued at the current instant: the clock
 * advances from a macrotask (`setImmediate`), which Node runs only once the microtask queue is
 * empty. It then jumps to the earliest wake-up, sets `nowMs` to exactly that time, and resolves
 * every sleep due then, in the order they were registered. Their continuations run at that
 * instant; new sleeps they register are ordered against the rest.
 *
 * **Parallel and serial compose like real time.** A VM's devices stepped in parallel,
 * `await Promise.all(devices.map((d) => d.setState(STOP_COPY)))`, end at
 * `start + max(latencies)`; stepped in series (`for ... await`), at `start + sum(latencies)`.
 * Code that measures a latency as `clock.nowMs` after minus before an await (the governor's
 * set-state wrapper) gets each device's own latency in both cases, exactly as with a real clock.
 *
 * **Determinism.** Wake-ups are ordered by (time, registration order) and the order of
 * registration follows from the program, so the same program with the same seeds gives the
 * same trace. Caveat: an await on real I/O inside a simulated section (a file write, a real
 * timer) lets virtual time run on while it is pending; keep real I/O synchronous
 * (better-sqlite3 is) or outside the simulated section.
 *
 * **Manual jumps.** `advance(ms)` moves time forward synchronously for code that is not
 * waiting on the clock (e.g. letting a pre-copy device dirty state between two polls). It
 * refuses (`E_CLOCK_SKIP`) to jump over a pending sleep, which would wake it late.
 */
export class VirtualClock implements Clock {
  private now: number;
  // Binary min-heap of wake-ups on (atMs, seq), kept in parallel arrays to avoid an object per sleep.
  private readonly heapAt: number[] = [];
  private readonly heapSeq: number[] = [];
  private readonly heapWake: Array<() => void> = [];
  private seq = 0;
  private drainScheduled = false;
  private readonly drain = (): void => this.wakeNext();

  constructor(startMs = 0) {
    checkTime('startMs', startMs);
    this.now = startMs;
  }

  get nowMs(): number {
    return this.now;
  }

  /** Number of sleeps registered and not yet woken. */
  get pendingSleeps(): number {
    return this.heapAt.length;
  }

  /** Time of the earliest pending wake-up, `undefined` when nothing sleeps. */
  get nextWakeMs(): number | undefined {
    return this.heapAt[0];
  }

  sleep(ms: number): Promise<void> {
    checkTime('sleep duration', ms);
    return new Promise<void>((resolve) => {
      this.push(this.now + ms, resolve);
      if (!this.drainScheduled) {
        this.drainScheduled = true;
        setImmediate(this.drain);
      }
    });
  }

  /**
   * Moves time forward by `ms` now, synchronously. Throws `E_CLOCK_SKIP` if a sleep would wake
   * before the new time: await it (or `sleep(ms)`) instead, so the sleeper runs at its own time.
   */
  advance(ms: number): void {
    checkTime('advance duration', ms);
    this.advanceTo(this.now + ms);
  }

  /** Like `advance`, to an absolute time ≥ `nowMs`. */
  advanceTo(timeMs: number): void {
    checkTime('advanceTo time', timeMs);
    if (timeMs < this.now) {
      throw new SimError('E_CLOCK_BAD_DURATION', `cannot move the clock back from ${this.now} ms to ${timeMs} ms`);
    }
    const next = this.heapAt[0];
    if (next !== undefined && next < timeMs) {
      throw new SimError(
        'E_CLOCK_SKIP',
        `advancing to ${timeMs} ms would skip a sleep due at ${next} ms (${this.heapAt.length} pending); await it instead`,
      );
    }
    this.now = timeMs;
  }

  private wakeNext(): void {
    this.drainScheduled = false;
    const at = this.heapAt[0];
    if (at === undefined) return;
    this.now = at;
    // Wake everything due at this instant in one go; their continuations run in seq order.
    while (this.heapAt[0] === at) this.pop()();
    if (this.heapAt.length > 0) {
      this.drainScheduled = true;
      setImmediate(this.drain);
    }
  }

  private push(at: number, wake: () => void): void {
    const seq = this.seq++;
    let i = this.heapAt.length;
    this.heapAt.push(at);
    this.heapSeq.push(seq);
    this.heapWake.push(wake);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(at, seq, this.heapAt[parent]!, this.heapSeq[parent]!)) break;
      this.move(parent, i);
      i = parent;
    }
    this.place(i, at, seq, wake);
  }

  private pop(): () => void {
    const top = this.heapWake[0]!;
    const lastAt = this.heapAt.pop()!;
    const lastSeq = this.heapSeq.pop()!;
    const lastWake = this.heapWake.pop()!;
    const n = this.heapAt.length;
    if (n === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && before(this.heapAt[r]!, this.heapSeq[r]!, this.heapAt[l]!, this.heapSeq[l]!) ? r : l;
      if (!before(this.heapAt[c]!, this.heapSeq[c]!, lastAt, lastSeq)) break;
      this.move(c, i);
      i = c;
    }
    this.place(i, lastAt, lastSeq, lastWake);
    return top;
  }

  private move(from: number, to: number): void {
    this.place(to, this.heapAt[from]!, this.heapSeq[from]!, this.heapWake[from]!);
  }

  private place(i: number, at: number, seq: number, wake: () => void): void {
    this.heapAt[i] = at;
    this.heapSeq[i] = seq;
    this.heapWake[i] = wake;
  }
}

/** Wake-up order: earlier time first, then earlier registration. */
function before(atA: number, seqA: number, atB: number, seqB: number): boolean {
  return atA < atB || (atA === atB && seqA < seqB);
}

function checkTime(what: string, value: number): void {
  if (!(value >= 0 && Number.isFinite(value))) {
    throw new SimError('E_CLOCK_BAD_DURATION', `${what} must be a finite number ≥ 0, got ${String(value)}`);
  }
}
