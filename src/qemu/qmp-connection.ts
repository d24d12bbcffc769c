/**
 * The QMP protocol engine (QEMU `docs/interop/qmp-spec.rst`): one socket to one QEMU monitor,
 * greeting and `qmp_capabilities` negotiation, commands tagged with an `id` and matched to their
 * replies, events as a hot RxJS stream, per-command timeouts, reconnection with backoff.
 * Typed commands live in {@link QmpClient} (`qmp-client.ts`); this class knows no command but
 * `qmp_capabilities`.
 */
import { createConnection, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { BehaviorSubject, Subject, type Observable } from 'rxjs';
import { LineSplitter } from './qmp-framing.js';
import { QmpClosedError, QmpCommandError, QmpConnectError, QmpProtocolError, QmpUnsupportedError } from './qmp-errors.js';
import { CommandTable, type PendingCommand } from './qmp-pending.js';
import type { QmpBackoff, QmpConnectionOptions, QmpConnectionState, QmpEndpoint, QmpExecuteOptions } from './qmp-options.js';
import {
  parseQmpMessage,
  type QmpGreeting,
  type QmpMessage,
  type QmpReceivedEvent,
  type QmpWireKind,
  type QmpWireLine,
} from './qmp-protocol.js';

export type { QmpBackoff, QmpConnectionOptions, QmpConnectionState, QmpEndpoint, QmpExecuteOptions } from './qmp-options.js';

const ONE_ATTEMPT: QmpBackoff = { maxAttempts: 1, initialDelayMs: 0, maxDelayMs: 0 };

function endpointName(e: QmpEndpoint): string {
  return 'path' in e ? `unix:${e.path}` : `tcp:${e.host}:${e.port}`;
}

/** One QMP monitor connection; see the file comment. Use {@link QmpClient} for typed commands. */
export class QmpConnection {
  readonly endpoint: string;
  /** Every QMP event, from every connection of this client; completes on `close()`. Hot. */
  readonly events$: Observable<QmpReceivedEvent>;
  /** Every line sent and received (the recorder's tap; see `qmp-wire-log.ts`). Hot. */
  readonly wire$: Observable<QmpWireLine>;
  /** Connection state; replays the current one to new subscribers. */
  readonly state$: Observable<QmpConnectionState>;

  private readonly events = new Subject<QmpReceivedEvent>();
  private readonly wire = new Subject<QmpWireLine>();
  private readonly stateSubject = new BehaviorSubject<QmpConnectionState>('disconnected');
  private readonly splitter = new LineSplitter();
  private readonly table = new CommandTable();
  private readonly lifetime = new AbortController();
  private readonly now: () => number;
  private socket: Socket | undefined;
  private generation = 0;
  private greetingWaiter: { resolve: (g: QmpGreeting) => void; reject: (e: Error) => void } | undefined;
  private connecting: Promise<void> | undefined;
  private greetingValue: QmpGreeting | undefined;
  private oob = false;

  constructor(readonly options: QmpConnectionOptions) {
    this.endpoint = endpointName(options.endpoint);
    this.events$ = this.events.asObservable();
    this.wire$ = this.wire.asObservable();
    this.state$ = this.stateSubject.asObservable();
    this.now = options.nowEpochMs ?? (() => performance.timeOrigin + performance.now());
  }

  get state(): QmpConnectionState {
    return this.stateSubject.value;
  }

  /** The greeting of the current (or last) connection. */
  get greeting(): QmpGreeting | undefined {
    return this.greetingValue;
  }

  /** `"7.2.22"`, or `"unknown"` before the first greeting. */
  get qemuVersion(): string {
    const v = this.greetingValue?.version.qemu;
    return v === undefined ? 'unknown' : `${v.major}.${v.minor}.${v.micro}`;
  }

  /** Whether `exec-oob` was negotiated on the current connection. */
  get oobEnabled(): boolean {
    return this.oob;
  }

  /** Opens the socket and negotiates, retrying per `connectRetry`. Throws {@link QmpConnectError}. */
  connect(): Promise<void> {
    if (this.state === 'closed') return Promise.reject(new QmpConnectError(this.endpoint, 0, 'client is closed'));
    if (this.state === 'ready') return Promise.resolve();
    this.connecting ??= this.connectLoop(this.options.connectRetry ?? ONE_ATTEMPT).finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  /** Drops the current socket (in-flight commands fail with {@link QmpClosedError}) and connects again. */
  reconnect(): Promise<void> {
    if (this.connecting !== undefined) return this.connecting;
    this.dropSocket('was dropped for reconnect()');
    return this.connect();
  }

  /** Closes for good: in-flight and queued commands fail, streams complete. Idempotent. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    const sock = this.socket;
    this.stateSubject.next('closed');
    this.lifetime.abort();
    this.dropSocket('was closed by the client');
    this.failQueued('was closed by the client');
    this.events.complete();
    this.wire.complete();
    this.stateSubject.complete();
    if (sock !== undefined && !sock.closed) await new Promise<void>((r) => sock.once('close', () => r()));
  }

  /**
   * Runs one command; resolves with its `return` value, rejects with {@link QmpCommandError}
   * (QEMU's `error`), {@link QmpTimeoutError} or {@link QmpClosedError}. Issued while
   * (re)connecting, it waits for `ready` within its own timeout.
   */
  execute(command: string, args?: Readonly<Record<string, unknown>>, opts: QmpExecuteOptions = {}): Promise<unknown> {
    return this.dispatch(command, args, opts, false);
  }

  private dispatch(
    command: string,
    args: Readonly<Record<string, unknown>> | undefined,
    opts: QmpExecuteOptions,
    handshake: boolean,
  ): Promise<unknown> {
    if (opts.oob === true && !this.oob) {
      return Promise.reject(new QmpUnsupportedError(`${command} out of band (oob not negotiated)`, this.qemuVersion));
    }
    const id = this.table.nextId();
    const msg: Record<string, unknown> = { [opts.oob === true ? 'exec-oob' : 'execute']: command };
    if (args !== undefined) msg['arguments'] = args;
    msg['id'] = id;
    const timeoutMs = opts.timeoutMs ?? this.options.commandTimeoutMs ?? 30_000;
    return this.table.open({ id, command, line: JSON.stringify(msg) }, timeoutMs, (p) => {
      if (handshake || this.state === 'ready') this.send(p);
      else if (this.state !== 'connecting') this.table.settle(p, this.closedError(p, `is ${this.state}`));
      // else: stays queued until the connection is ready
    });
  }

  private send(p: PendingCommand): void {
    const sock = this.socket;
    if (sock === undefined) {
      this.table.settle(p, this.closedError(p, 'has no socket'));
      return;
    }
    this.table.markSent(p);
    this.tap('out', 'command', p.line, p.command);
    sock.write(`${p.line}\n`);
  }

  private closedError(p: PendingCommand, why: string, cause?: Error): QmpClosedError {
    return new QmpClosedError(p.command, p.id, this.endpoint, why, cause === undefined ? undefined : { cause });
  }

  private tap(direction: 'in' | 'out', kind: QmpWireKind, line: string, command: string | undefined): number {
    const atMs = this.now();
    this.wire.next(command === undefined ? { direction, kind, line, atMs } : { direction, kind, line, atMs, command });
    return atMs;
  }

  private async connectLoop(policy: QmpBackoff): Promise<void> {
    this.stateSubject.next('connecting');
    let last: unknown;
    let attempts = 0;
    while (attempts < Math.max(1, policy.maxAttempts)) {
      if (attempts > 0) {
        const delayMs = Math.min(policy.initialDelayMs * 2 ** (attempts - 1), policy.maxDelayMs);
        try {
          await sleep(delayMs, undefined, { signal: this.lifetime.signal });
        } catch {
          break; // close() during the wait
        }
      }
      attempts++;
      try {
        await this.attempt();
        this.stateSubject.next('ready');
        for (const p of this.table.queuedCommands()) this.send(p);
        return;
      } catch (e) {
        last = e;
        if (this.lifetime.signal.aborted) break;
      }
    }
    const why = this.lifetime.signal.aborted ? 'client closed while connecting' : 'could not connect';
    if (this.state !== 'closed') {
      this.stateSubject.next('disconnected');
      this.failQueued(`could not be re-established (${String(last)})`);
    }
    throw new QmpConnectError(this.endpoint, attempts, `${why}: ${last instanceof Error ? last.message : String(last)}`, {
      cause: last,
    });
  }

  /** One socket: open, greeting, `qmp_capabilities` (with `enable: ["oob"]` if asked and offered). */
  private async attempt(): Promise<void> {
    const gen = ++this.generation;
    this.splitter.reset();
    this.oob = false;
    const sock = createConnection('path' in this.options.endpoint ? { path: this.options.endpoint.path } : this.options.endpoint);
    this.socket = sock;
    // Bytes, not strings: the splitter decodes whole lines, so a character split across two
    // reads is never mangled.
    sock.setNoDelay(true); // QMP is request/reply: do not let Nagle hold a command back (TCP only)
    let socketError: Error | undefined;
    sock.on('data', (chunk: Buffer) => {
      if (gen === this.generation) this.onData(chunk);
    });
    sock.on('error', (e) => {
      socketError = e;
    });
    sock.on('close', () => {
      if (gen === this.generation) this.onClose(socketError);
    });
    const greeting = new Promise<QmpGreeting>((resolve, reject) => {
      this.greetingWaiter = { resolve, reject };
    });
    const timeoutMs = this.options.connectTimeoutMs ?? 10_000;
    const timer = setTimeout(() => sock.destroy(new Error(`no QMP handshake within ${timeoutMs} ms`)), timeoutMs);
    try {
      const g = await greeting;
      this.greetingValue = g;
      const wantOob = this.options.oob === true && g.capabilities.includes('oob');
      await this.dispatch('qmp_capabilities', wantOob ? { enable: ['oob'] } : undefined, { timeoutMs }, true);
      this.oob = wantOob;
    } catch (e) {
      sock.destroy();
      throw e;
    } finally {
      clearTimeout(timer);
      this.greetingWaiter = undefined;
    }
  }

  private onData(chunk: Buffer): void {
    let lines: string[];
    try {
      lines = this.splitter.push(chunk);
    } catch (e) {
      this.protocolFailure(new QmpProtocolError(this.endpoint, (e as Error).message));
      return;
    }
    for (const line of lines) {
      const msg = parseQmpMessage(line);
      const owner = msg.type === 'return' || msg.type === 'error' ? this.table.owner(msg.id) : undefined;
      const atMs = this.tap('in', msg.type, line, owner?.command);
      this.onMessage(msg, line, atMs, owner);
      if (msg.type === 'invalid') return; // the connection was dropped
    }
  }

  private onMessage(msg: QmpMessage, line: string, atMs: number, owner: PendingCommand | undefined): void {
    switch (msg.type) {
      case 'greeting':
        this.greetingWaiter?.resolve(msg.greeting);
        return;
      case 'event':
        this.events.next({ event: msg.event, data: msg.data, timestamp: msg.timestamp, receivedAtMs: atMs });
        return;
      case 'return':
      case 'error': {
        if (owner === undefined) return; // reply after its timeout: dropped (still on wire$)
        const outcome = msg.type === 'return' ? { value: msg.value } : new QmpCommandError(owner.command, owner.id, msg.errorClass, msg.desc);
        this.table.settle(owner, outcome);
        return;
      }
      case 'invalid':
        this.protocolFailure(new QmpProtocolError(this.endpoint, msg.why, line));
        return;
    }
  }

  private protocolFailure(error: QmpProtocolError): void {
    this.socket?.destroy(error);
  }

  private onClose(socketError: Error | undefined): void {
    const wasReady = this.state === 'ready';
    const why = socketError === undefined ? 'was closed by the peer' : `failed: ${socketError.message}`;
    this.greetingWaiter?.reject(new Error(`socket closed before the greeting (${why})`));
    this.failInFlight(why, socketError);
    this.socket = undefined;
    if (!wasReady) return; // a failed attempt: connectLoop decides what next
    this.stateSubject.next('disconnected');
    const policy = this.options.autoReconnect;
    if (policy === undefined) {
      this.failQueued(why);
      return;
    }
    this.connecting ??= this.connectLoop(policy).finally(() => {
      this.connecting = undefined;
    });
    this.connecting.catch(() => undefined); // reported through state$ and the queued commands
  }

  /** Forgets the current socket now (its later callbacks are ignored) and fails what was in flight. */
  private dropSocket(why: string): void {
    const sock = this.socket;
    this.generation++;
    this.socket = undefined;
    this.greetingWaiter?.reject(new Error(`socket ${why}`));
    this.failInFlight(why, undefined);
    sock?.destroy();
    if (this.state === 'ready') this.stateSubject.next('disconnected');
  }

  private failInFlight(why: string, cause: Error | undefined): void {
    this.table.failInFlight((p) => this.closedError(p, why, cause));
  }

  private failQueued(why: string): void {
    this.table.failQueued((p) => this.closedError(p, why));
  }
}
