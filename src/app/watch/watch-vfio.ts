/**
 * The VFIO devices of a watched migration, live: which devices each QEMU has and what model
 * each is (`vfio-devices.ts`), the state each is in (its `VFIO_MIGRATION` events,
 * `vfio-events.ts`), and — with `--vfio-trace` — the sizes QEMU's own trace gives per device and
 * iteration (`vfio-trace.ts`), switched on over QMP only for the migration and off again after.
 * From these, {@link WatchVfio.devices} builds the governor's device snapshots, so `decide()`
 * counts the devices' arcs and state. Everything it learns is also written into the wire log as
 * `vfio-sla` annotations (`vfio-records.ts`), so the records of `watch` and of an import of its
 * log are the same.
 *
 * Trace switching: `human-monitor-command "logfile PATH"` points QEMU's log at a file, then
 * `trace-event-set-state` enables {@link VFIO_TRACE_EVENTS} (QEMU built with the "log" trace
 * backend, as Debian's is, writes enabled events to the log: `trace/control.c`, `util/log.c`).
 * At the end the events are disabled again; the log file stays set (HMP has no way back to
 * "no file"), which is said in a note.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import type { CompiledModel } from '../../estimators/compile.js';
import { MigFlags, MigState } from '../../fsm/index.js';
import type { DeviceSnapshot } from '../../governor/types.js';
import type { QmpClient } from '../../qemu/qmp-client.js';
import { decisionModelOf, discoverVfioDevices, type VfioDeviceInfo } from '../../qemu/vfio-devices.js';
import { VfioStateTracker, vfioStateEvent } from '../../qemu/vfio-events.js';
import { LineSplitter } from '../../qemu/qmp-framing.js';
import { vfioAnnotationLine, type VfioSide } from '../../qemu/vfio-records.js';
import { parseVfioTraceLine, VFIO_TRACE_EVENTS, VfioTraceTracker } from '../../qemu/vfio-trace.js';

/** One QEMU's trace, as `watch` reads it. */
export interface VfioTraceOptions {
  /** The log file QEMU is told to write (a path on QEMU's host). */
  readonly qemuPath: string;
  /** Where `watch` reads it (default `qemuPath`: QEMU on this host). */
  readonly readPath?: string;
}

/** A trace line longer than this is no trace event of ours: dropped (the sizes stay unknown). */
const MAX_TRACE_LINE_BYTES = 1024 * 1024;

/** The whole lines `chunk` completes (blank ones skipped); a line over the limit is dropped. */
function splitLines(splitter: LineSplitter, chunk: Buffer): string[] {
  try {
    return splitter.push(chunk);
  } catch {
    splitter.reset(); // RangeError: an over-long line
    return [];
  }
}

/** Reads what was appended to a file since the last call, whole lines only. */
export class FileTail {
  private offset = 0;
  private readonly splitter = new LineSplitter(MAX_TRACE_LINE_BYTES);

  constructor(private readonly path: string) {}

  /** New complete lines (none when the file does not exist yet). */
  read(): string[] {
    let fd: number;
    try {
      fd = openSync(this.path, 'r');
    } catch {
      return [];
    }
    try {
      const size = statSync(this.path).size;
      if (size < this.offset) this.offset = 0; // truncated: QEMU reopened it
      const buf = Buffer.alloc(Math.max(0, size - this.offset));
      const n = buf.length === 0 ? 0 : readSync(fd, buf, 0, buf.length, this.offset);
      this.offset += n;
      return splitLines(this.splitter, buf.subarray(0, n));
    } finally {
      closeSync(fd);
    }
  }
}

/**
 * Reads lines from a unix socket instead (QEMU in a guest writing its log to a virtio-serial
 * port whose host end is that socket), buffered between reads.
 */
export class SocketTail {
  private readonly splitter = new LineSplitter(MAX_TRACE_LINE_BYTES);
  private readonly lines: string[] = [];
  private readonly socket: Socket;

  constructor(path: string) {
    this.socket = connect(path);
    this.socket.on('data', (chunk: Buffer) => {
      for (const l of splitLines(this.splitter, chunk)) this.lines.push(l);
    });
    this.socket.on('error', () => undefined); // a trace that cannot be read leaves the sizes unknown
  }

  /** Lines received since the last call. */
  read(): string[] {
    return this.lines.splice(0);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A tail of `path`: a unix socket is connected to, anything else read as a file. */
function tailOf(path: string): FileTail | SocketTail {
  try {
    if (statSync(path).isSocket()) return new SocketTail(path);
  } catch {
    // not there yet: a file QEMU will create
  }
  return new FileTail(path);
}

/** One QEMU (source or destination) as the VFIO part of the watch sees it. */
class VfioSideWatch {
  devicesKnown: VfioDeviceInfo[] = [];
  readonly states = new VfioStateTracker();
  readonly trace: VfioTraceTracker;
  private tail: FileTail | SocketTail | undefined;
  private traceOn = false;
  private readonly byName = new Map<string, string>();

  constructor(
    readonly side: VfioSide,
    readonly qmp: QmpClient,
    private readonly traceOptions: VfioTraceOptions | undefined,
    private readonly annotate: (line: string) => void,
    private readonly note: (message: string) => void,
  ) {
    this.trace = new VfioTraceTracker((name) => this.byName.get(name) ?? (this.devicesKnown.length === 1 ? this.devicesKnown[0]!.deviceId : name));
  }

  async attach(): Promise<void> {
    try {
      this.devicesKnown = await discoverVfioDevices(this.qmp);
    } catch (e) {
      this.note(`${this.side}: could not list PCI devices (${(e as Error).message}); VFIO devices are known from their events only`);
    }
    for (const d of this.devicesKnown) this.byName.set(d.name, d.deviceId);
    if (this.devicesKnown.length > 0) this.annotate(vfioAnnotationLine(this.side, { devices: this.devicesKnown }));
    if (this.traceOptions !== undefined) await this.traceStart(this.traceOptions);
  }

  onEvent(line: string, data: Readonly<Record<string, unknown>>, atMs: number): void {
    const e = vfioStateEvent({ atMs, event: 'VFIO_MIGRATION', data });
    if (e === undefined) return;
    this.states.observe(e);
    if (this.side === 'destination') this.annotate(vfioAnnotationLine('destination', { event: line }));
  }

  /** Reads new trace lines (each also annotated into the log). */
  pollTrace(nowEpochMs: number): void {
    if (this.tail === undefined) return;
    for (const text of this.tail.read()) {
      const parsed = parseVfioTraceLine(text, nowEpochMs);
      if (parsed === undefined) continue;
      this.annotate(vfioAnnotationLine(this.side, { trace: text, atMs: nowEpochMs }));
      this.trace.observe(parsed, '');
    }
  }

  /** Stops reading the trace (after the last {@link pollTrace}). */
  closeTrace(): void {
    if (this.tail instanceof SocketTail) this.tail.close();
  }

  async traceStop(): Promise<void> {
    if (!this.traceOn) return;
    this.traceOn = false;
    // A QEMU that has gone (a destination after a cancelled migration exits) took its trace state with it.
    if (this.qmp.state !== 'ready') return;
    for (const name of VFIO_TRACE_EVENTS) {
      try {
        await this.qmp.execute('trace-event-set-state', { name, enable: false });
      } catch (e) {
        this.note(`${this.side}: could not switch trace event ${name} off: ${(e as Error).message}`);
      }
    }
    this.note(`${this.side}: VFIO trace events switched off (QEMU's log file stays ${this.traceOptions?.qemuPath ?? ''})`);
  }

  private async traceStart(o: VfioTraceOptions): Promise<void> {
    const reply = await this.qmp.execute('human-monitor-command', { 'command-line': `logfile ${o.qemuPath}` });
    if (typeof reply === 'string' && reply.trim().length > 0) {
      this.note(`${this.side}: QEMU refused the log file ${o.qemuPath}: ${reply.trim()}; no VFIO trace`);
      return;
    }
    const on: string[] = [];
    for (const name of VFIO_TRACE_EVENTS) {
      try {
        await this.qmp.execute('trace-event-set-state', { name, enable: true });
        on.push(name);
      } catch (e) {
        this.note(`${this.side}: trace event ${name} not available: ${(e as Error).message}`);
      }
    }
    this.traceOn = on.length > 0;
    this.tail = tailOf(o.readPath ?? o.qemuPath);
    this.tail.read(); // what the file held before: not this migration's
    if (this.traceOn) this.note(`${this.side}: VFIO trace events ${on.join(', ')} on, logged to ${o.qemuPath}`);
  }
}

export interface WatchVfioOptions {
  readonly source: QmpClient;
  /** The destination QEMU, for its devices' arcs. */
  readonly destination?: QmpClient;
  readonly sourceTrace?: VfioTraceOptions;
  readonly destinationTrace?: VfioTraceOptions;
  readonly annotate: (line: string) => void;
  readonly note: (message: string) => void;
}

/** See the module comment. */
export class WatchVfio {
  readonly source: VfioSideWatch;
  readonly destination: VfioSideWatch | undefined;
  private readonly fallbackNoted = new Set<string>();
  private sizeNoted = false;

  constructor(private readonly o: WatchVfioOptions) {
    this.source = new VfioSideWatch('source', o.source, o.sourceTrace, o.annotate, o.note);
    this.destination = o.destination === undefined ? undefined : new VfioSideWatch('destination', o.destination, o.destinationTrace, o.annotate, o.note);
  }

  async attach(): Promise<void> {
    await this.source.attach();
    await this.destination?.attach();
  }

  pollTrace(nowEpochMs: number): void {
    this.source.pollTrace(nowEpochMs);
    this.destination?.pollTrace(nowEpochMs);
  }

  /**
   * Switches the trace off. `destinationAlive` false: the migration did not complete, and an
   * incoming QEMU whose migration failed exits (`process_incoming_migration_co()` in
   * `migration/migration.c`) — its monitor may sit behind a forwarded port that stays open, so
   * it is not asked (it would never answer).
   */
  async stop(destinationAlive: boolean): Promise<void> {
    await this.source.traceStop();
    if (destinationAlive) await this.destination?.traceStop();
  }

  /** Closes the trace readers (after the last {@link pollTrace}). */
  close(): void {
    this.source.closeTrace();
    this.destination?.closeTrace();
  }

  /** Whether the destination's devices all reached RUNNING (or there is no destination to wait for). */
  destinationRunning(): boolean {
    const d = this.destination;
    if (d === undefined) return true;
    const ids = d.devicesKnown.map((x) => x.deviceId);
    return ids.length === 0 || ids.every((id) => d.states.state(id) === 'RUNNING' && d.states.lastAtMs(id) !== undefined);
  }

  /**
   * The source devices as the governor sees them: state from the events (RUNNING before the
   * first), flags STOP_COPY|P2P plus PRE_COPY once the device is in a PRE_COPY state (QEMU
   * moves a device with PRE_COPY there at save setup, `vfio_save_setup()`; P2P is assumed: its
   * extra arc only lengthens the bound), sizes from the trace (else 0, said once in a note), the
   * model the fitted model knows or the generic prior (said once per device model).
   */
  devices(model: CompiledModel): DeviceSnapshot[] {
    const s = this.source;
    const known = new Map(s.devicesKnown.map((d) => [d.deviceId, d.model]));
    for (const d of s.states.devices()) if (!known.has(d.deviceId)) known.set(d.deviceId, 'vfio-pci');
    const out: DeviceSnapshot[] = [];
    for (const [id, deviceModel] of known) {
      const stateName = s.states.state(id);
      const state = MigState[stateName];
      const preCopy = state === MigState.PRE_COPY || state === MigState.PRE_COPY_P2P;
      const flags = MigFlags.STOP_COPY | MigFlags.P2P | (preCopy ? MigFlags.PRE_COPY : 0);
      const m = decisionModelOf(model, deviceModel, state, flags);
      if (m.fallback && !this.fallbackNoted.has(`${deviceModel}>${m.model}`)) {
        this.fallbackNoted.add(`${deviceModel}>${m.model}`);
        this.o.note(`device ${id} is ${deviceModel}, which the model does not know: predicted with the ${m.model} prior (fit a model from its own migrations)`);
      }
      const sizes = s.trace.latest(id);
      if (sizes?.stopCopyBytes === undefined && !this.sizeNoted) {
        this.sizeNoted = true;
        this.o.note(`no VFIO stop-copy size for ${id} yet${this.o.sourceTrace === undefined ? ' (QMP has none; --vfio-trace reads it from QEMU\'s trace)' : ''}: its arcs are counted, its data as 0 bytes`);
      }
      const snap: DeviceSnapshot = { id, model: m.model, state, flags, stopCopyBytes: sizes?.stopCopyBytes ?? 0 };
      out.push(preCopy && sizes !== undefined ? { ...snap, initialBytes: sizes.initialBytes, dirtyBytes: sizes.dirtyBytes } : snap);
    }
    return out;
  }

  /** Bytes QEMU counts as pending for the devices (stop-copy + pre-copy initial + dirty), for the release limit. */
  pendingBytes(): number {
    let sum = 0;
    for (const d of this.source.devicesKnown) {
      const s = this.source.trace.latest(d.deviceId);
      if (s !== undefined) sum += (s.stopCopyBytes ?? 0) + s.initialBytes + s.dirtyBytes;
    }
    return sum;
  }
}
