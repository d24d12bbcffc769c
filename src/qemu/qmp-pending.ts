/**
 * Commands between `execute()` and their reply: queued (waiting for the connection to be
 * ready) or in flight (written, waiting for the reply with their `id`), each with its own
 * timeout. Replies are matched by `id` (qmp-spec.rst: "id ... will be returned in the response").
 */
import { QmpTimeoutError } from './qmp-errors.js';

/** One command awaiting its reply. */
export interface PendingCommand {
  readonly id: string;
  readonly command: string;
  /** The JSON text written to the socket (without terminator). */
  readonly line: string;
}

interface Entry extends PendingCommand {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** The commands of one client awaiting replies, across reconnects. */
export class CommandTable {
  private readonly inFlight = new Map<string, Entry>();
  private readonly queued: Entry[] = [];
  private counter = 0;

  /** A fresh command id (`c1`, `c2`, …; unique per client). */
  nextId(): string {
    return `c${++this.counter}`;
  }

  /**
   * Registers a command and starts its timeout; `place` then puts it in the queue or on the
   * wire. Resolves with the reply's `return` value or rejects with the error given to
   * {@link settle}, or {@link QmpTimeoutError} after `timeoutMs`.
   */
  open(cmd: PendingCommand, timeoutMs: number, place: (p: PendingCommand) => void): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.remove(cmd.id);
        reject(new QmpTimeoutError(cmd.command, cmd.id, timeoutMs));
      }, timeoutMs);
      const entry: Entry = { ...cmd, resolve, reject, timer };
      this.queued.push(entry);
      place(entry);
    });
  }

  /** Moves a queued command in flight (it has been written to the socket). */
  markSent(p: PendingCommand): void {
    const i = this.queued.findIndex((e) => e.id === p.id);
    if (i === -1) return;
    const [entry] = this.queued.splice(i, 1);
    if (entry !== undefined) this.inFlight.set(entry.id, entry);
  }

  /** Queued commands, oldest first, still queued (send each, then {@link markSent}). */
  queuedCommands(): PendingCommand[] {
    return [...this.queued];
  }

  /**
   * The in-flight command a reply answers. QEMU omits `id` only when it could not read the
   * command's (unparsable input); in-band commands are answered in order, so such a reply
   * belongs to the oldest command in flight.
   */
  owner(id: unknown): PendingCommand | undefined {
    if (typeof id === 'string') return this.inFlight.get(id);
    if (id !== undefined) return undefined;
    for (const oldest of this.inFlight.values()) return oldest;
    return undefined;
  }

  /** Ends a command (queued or in flight) with its value or an error; no-op if already ended. */
  settle(p: PendingCommand, outcome: Error | { readonly value: unknown }): void {
    const entry = this.remove(p.id);
    if (entry === undefined) return;
    if (outcome instanceof Error) entry.reject(outcome);
    else entry.resolve(outcome.value);
  }

  /** Fails every in-flight command with the error `make` builds for it. */
  failInFlight(make: (p: PendingCommand) => Error): void {
    for (const p of [...this.inFlight.values()]) this.settle(p, make(p));
  }

  /** Fails every queued command with the error `make` builds for it. */
  failQueued(make: (p: PendingCommand) => Error): void {
    for (const p of [...this.queued]) this.settle(p, make(p));
  }

  private remove(id: string): Entry | undefined {
    let entry = this.inFlight.get(id);
    if (entry !== undefined) this.inFlight.delete(id);
    else {
      const i = this.queued.findIndex((e) => e.id === id);
      if (i !== -1) entry = this.queued.splice(i, 1)[0];
    }
    if (entry !== undefined) clearTimeout(entry.timer);
    return entry;
  }
}
