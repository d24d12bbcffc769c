/**
 * `vfio-sla watch`: follows one live migration over QMP — a `query-migrate` poll every 100 ms and
 * QEMU's `MIGRATION`, `MIGRATION_PASS`, `VFIO_MIGRATION`, `STOP` events — records it through the
 * telemetry pipeline exactly as the QMP importer would ({@link WatchRecorder}), asks the governor
 * at every poll, and with `drive` steers QEMU by the decisions ({@link WatchDriver}).
 *
 * The timeline is emitted in the order the socket delivered things: an entry caused by a received
 * line (an event, QEMU's acknowledgement of the release) is emitted as that line is read, so
 * "release before STOP" in the timeline means QEMU took the new limit before it stopped the guest.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { pairwise, Subject, type Observable, type Subscription } from 'rxjs';
import type { CompiledModel } from '../../estimators/compile.js';
import { predictBlackout } from '../../estimators/predict.js';
import { decide } from '../../governor/decide.js';
import { tooFewCalibrationScores } from '../../governor/uncalibrated.js';
import { QEMU_BUFFER_DELAY_MS, QEMU_DEFAULT_MULTIFD_CHANNELS } from '../../facts/qemu.js';
import type { Slo } from '../../governor/types.js';
import type { RecordSink } from '../../records/records.js';
import { DowntimeLever } from './drive.js';
import { MIGRATION_FINAL_STATUSES } from '../../qemu/qapi-migration.js';
import type { QmpClient } from '../../qemu/qmp-client.js';
import { readQmpEvent } from '../../qemu/qmp-log.js';
import type { QmpWireLine } from '../../qemu/qmp-protocol.js';
import { pollFigures, SnapshotTracker } from './qmp-snapshot.js';
import type { QmpPoll } from '../../qemu/qmp-types.js';
import { finishWatch, WatchEndSignal, type WatchState } from './watch-end.js';
import { WatchDriver, type EntryBody } from './watch-drive.js';
import { WatchRecorder, type RecordedLine } from './watch-recorder.js';
import type { WatchEntry, WatchResult } from './watch-types.js';
import { WatchVfio, type VfioTraceOptions } from './watch-vfio.js';

export { ABORT_CONFIRM_POLLS } from './watch-drive.js';

/** `query-migrate` period, ms: QEMU's own `BUFFER_DELAY` window (`migration/migration.c`). */
export const WATCH_POLL_INTERVAL_MS = QEMU_BUFFER_DELAY_MS;

/** How long to re-poll a `completed` without statistics (QEMU 7.2 race, `watch-recorder.ts`), ms. */
export const COMPLETION_STATS_TIMEOUT_MS = 10_000;

/** How long to wait after completion for the destination's devices to report RUNNING, ms. */
export const DESTINATION_RUNNING_TIMEOUT_MS = 3_000;

export interface WatchOptions {
  /** A client not yet connected (so the greeting is logged too) or already connected. */
  readonly qmp: QmpClient;
  readonly sink: RecordSink;
  readonly migrationId: string;
  /** Provenance of the records: the `--qmp-log` path, or the QMP endpoint. */
  readonly source: string;
  /** Receives the form-1 wire log, one line per call (no terminator). */
  readonly writeLogLine?: (line: string) => void;
  readonly model: CompiledModel;
  readonly slo: Slo;
  /** Steer the switchover and throttle; otherwise decisions are advice only. */
  readonly drive: boolean;
  /** What `drive` does with a confirmed `abort`: `cancel` (default) or `release` to QEMU's rule. */
  readonly onAbort?: 'cancel' | 'release';
  /**
   * Drive even when the model's bound is not calibrated for this VM (then an `abort` may cancel
   * the migration). Default false: without a calibrated model `drive` observes only and QEMU
   * keeps its own switchover rule (`governor/uncalibrated.ts`).
   */
  readonly abortWithoutModel?: boolean;
  /** Default {@link WATCH_POLL_INTERVAL_MS}. */
  readonly pollIntervalMs?: number;
  /** Stops the watch (SIGINT): steering is undone, what was recorded stays. */
  readonly signal?: AbortSignal;
  /** Monotonic clock, ms (default `performance.now`). */
  readonly now?: () => number;
  /** The destination QEMU (not yet connected): its VFIO devices' arcs are recorded too. */
  readonly destination?: QmpClient;
  /** Switch QEMU's VFIO trace on for the migration (`watch-vfio.ts`): per-device sizes. */
  readonly vfioTrace?: VfioTraceOptions;
  readonly destinationVfioTrace?: VfioTraceOptions;
}

/** One watch of one migration: subscribe to `timeline$`, then `run()`. */
export class MigrationWatch {
  readonly timeline$: Observable<WatchEntry>;
  private readonly timeline = new Subject<WatchEntry>();
  private readonly recorder: WatchRecorder;
  private readonly vfio: WatchVfio;
  private readonly now: () => number;
  private readonly wake = new AbortController();
  private readonly st: WatchState;
  private startedAtMs = 0;
  private lastLine: RecordedLine | undefined;
  private wireError: Error | undefined;
  private tracker: SnapshotTracker | undefined;
  private lever: DowntimeLever | undefined;
  /** Channel use of this migration, as `decide()` takes it (`multifdOf`). */
  private channels: { multifdChannels?: number; deviceStateMultifd?: boolean } = {};
  private driver: WatchDriver | undefined;
  private lastPass: number | undefined;
  /** Without `drive`: read `downtime-limit` before the next poll (the switchover has begun). */
  private readLimitFirst = false;

  constructor(private readonly o: WatchOptions) {
    this.timeline$ = this.timeline.asObservable();
    this.now = o.now ?? (() => performance.now());
    const log = o.writeLogLine === undefined ? {} : { writeLine: o.writeLogLine };
    this.recorder = new WatchRecorder({ migrationId: o.migrationId, sink: o.sink, source: o.source, ...log });
    this.vfio = new WatchVfio({
      source: o.qmp,
      ...(o.destination === undefined ? {} : { destination: o.destination }),
      ...(o.vfioTrace === undefined ? {} : { sourceTrace: o.vfioTrace }),
      ...(o.destinationVfioTrace === undefined ? {} : { destinationTrace: o.destinationVfioTrace }),
      annotate: (line) => this.recorder.annotate(line),
      note: (message) => this.note(message),
    });
    this.st = {
      status: null,
      committed: null,
      lastDecision: null,
      releasedAtWire: false,
      switchoverBy: null,
      cancelledByWatch: false,
      cancelReason: null,
      eventsEnabledByUs: false,
      shutdown: null,
      driving: o.drive,
    };
  }

  /** Follows the migration to its end. Resolves whatever QEMU does (see {@link WatchResult}). */
  async run(): Promise<WatchResult> {
    const qmp = this.o.qmp;
    const subs: Subscription[] = [
      qmp.wire$.subscribe((w) => this.onWire(w)),
      // state$ replays 'disconnected' before the first connect: only a loss of 'ready' wakes the loop.
      qmp.state$.pipe(pairwise()).subscribe(([was, now]) => was === 'ready' && now !== 'ready' && this.wake.abort()),
    ];
    const dest = this.o.destination;
    if (dest !== undefined) {
      subs.push(dest.wire$.subscribe((w) => this.onDestinationWire(w)));
    }
    const stop = (): void => this.wake.abort();
    this.o.signal?.addEventListener('abort', stop);
    this.startedAtMs = this.now();
    let end: WatchEndSignal;
    try {
      await qmp.connect();
      await dest?.connect();
      await this.attach();
      end = await this.loop();
      if (end.end === 'completed') await this.awaitDestination();
    } catch (e) {
      end = WatchEndSignal.from(e);
    } finally {
      this.o.signal?.removeEventListener('abort', stop);
    }
    await this.vfio.stop(end.end === 'completed').catch((e: Error) => this.note(`could not switch the VFIO trace off: ${e.message}`));
    this.vfio.pollTrace(Date.now());
    this.vfio.close();
    const result = await finishWatch(end, this.st, {
      qmp,
      recorder: this.recorder,
      lever: this.driver?.lever,
      throttle: this.driver?.throttle,
      migrationId: this.o.migrationId,
      deadlineMs: this.o.slo.deadlineMs,
      note: (message) => this.emit({ type: 'note', message }),
      restored: (change) => this.emit({ type: 'limit', action: 'restore', change }),
    });
    for (const s of subs) s.unsubscribe();
    this.emit({ type: 'end', result });
    this.timeline.complete();
    return result;
  }

  private emit(entry: EntryBody): void {
    this.timeline.next({ ...entry, tMs: this.now() - this.startedAtMs } as WatchEntry);
  }

  private note(message: string): void {
    this.emit({ type: 'note', message });
  }

  private async attach(): Promise<void> {
    const qmp = this.o.qmp;
    const info = await qmp.queryMigrate();
    const running = info.status !== undefined && info.status !== 'none' && !MIGRATION_FINAL_STATUSES.has(info.status);
    const caps = await qmp.queryMigrateCapabilities();
    let events: 'on' | 'enabled' | 'off' = caps.events === true ? 'on' : 'off';
    if (events === 'off' && !running) {
      await qmp.migrateSetCapabilities({ events: true });
      events = 'enabled';
      this.st.eventsEnabledByUs = true;
    }
    this.lever = await DowntimeLever.attach(qmp); // its query-migrate-parameters reply is logged: the deadline QEMU had
    this.channels = multifdOf(caps.multifd === true, this.lever.multifdChannels, qmp.qemuVersion);
    const alpha = this.o.slo.alpha;
    const floor = predictBlackout(this.o.model, { devices: [], ramRemainingBytes: 0, ramDirtyBytesPerS: 0 }, alpha);
    const abortWithoutModel = this.o.abortWithoutModel ?? false;
    const observeOnly = this.o.drive && !floor.calibrated && !abortWithoutModel;
    if (this.o.drive && !observeOnly) {
      const o = { slo: this.o.slo, onAbort: this.o.onAbort ?? 'cancel', abortWithoutModel, st: this.st, emit: (e: EntryBody) => this.emit(e), devicePendingBytes: () => this.vfio.pendingBytes() } as const;
      this.driver = await WatchDriver.take(qmp, this.lever, running, o);
    }
    this.st.driving = this.driver !== undefined;
    await this.recordStack();
    // Before the attach entry: a migration started right after attaching has its devices and trace from its first arc.
    await this.vfio.attach();
    this.emit({
      type: 'attach',
      endpoint: qmp.endpoint,
      qemuVersion: qmp.qemuVersion,
      migrationId: this.o.migrationId,
      drive: this.driver !== undefined,
      downtimeLimitMs: this.lever.originalLimitMs,
      events,
      throttle: this.driver?.throttle.mechanism ?? null,
      runningStatus: running ? (info.status ?? null) : null,
    });
    if (events === 'off') this.note("migration events off (the 'events' capability cannot change during a migration): following by polling only");
    if (observeOnly) {
      const why = tooFewCalibrationScores(this.o.model.scores.length, alpha) ?? 'the model is not calibrated for this link';
      this.note(`--drive observes only: ${why}; QEMU keeps its own switchover rule and nothing is cancelled (--abort-without-model to steer anyway)`);
    }
    if (floor.boundMs > this.o.slo.deadlineMs) {
      const consequence = this.driver === undefined ? 'every decision will be abort, as advice only' : `every decision will be abort, and --drive will ${this.o.onAbort === 'release' ? 'hand the switchover back to QEMU' : 'cancel the migration'}`;
      this.note(
        `with this model the ${+((1 - alpha) * 100).toFixed(3)} % blackout bound is ${floor.boundMs.toFixed(0)} ms even with no RAM ` +
          `left, over the ${this.o.slo.deadlineMs} ms deadline: ${consequence} (fit a model from your own migrations, or relax --deadline/--alpha)`,
      );
    }
  }

  /**
   * Each QEMU's `query-version`, the provenance of every record of the migration (`stack`
   * records): which arcs run inside the blackout and what a VFIO pending size means depend on it
   * (`estimators/stack.ts`). A QEMU that cannot say is noted, and its side stays unknown.
   */
  private async recordStack(): Promise<void> {
    const sides = [['source', this.o.qmp], ['destination', this.o.destination]] as const;
    for (const [side, client] of sides) {
      if (client === undefined) continue;
      try {
        this.recorder.stack(side, await client.queryVersion());
      } catch (e) {
        this.note(`the ${side} QEMU's version is unknown (query-version: ${(e as Error).message}): its records carry no stack`);
      }
    }
  }

  /** After completion: the destination's devices reach RUNNING when it starts the VM; their last arcs come then. */
  private async awaitDestination(): Promise<void> {
    if (this.o.destination === undefined) return;
    const untilMs = this.now() + DESTINATION_RUNNING_TIMEOUT_MS;
    while (!this.vfio.destinationRunning() && this.now() < untilMs) {
      this.vfio.pollTrace(Date.now());
      await sleep(WATCH_POLL_INTERVAL_MS);
    }
    if (!this.vfio.destinationRunning()) this.note(`the destination's VFIO devices did not report RUNNING within ${DESTINATION_RUNNING_TIMEOUT_MS} ms`);
  }

  private onDestinationWire(w: QmpWireLine): void {
    if (w.direction !== 'in' || w.kind !== 'event') return;
    try {
      // The importer's reading (qmp-log.ts), as for the source's events: the same time from the same line.
      const read = readQmpEvent(JSON.parse(w.line), 0);
      if ('error' in read || read.event.event !== 'VFIO_MIGRATION') return;
      const { data, atMs } = read.event;
      this.vfio.destination?.onEvent(w.line, data, atMs);
      this.emit({ type: 'event', event: 'VFIO_MIGRATION', data: { ...data, side: 'destination' }, qemuAtMs: atMs });
    } catch (e) {
      this.wireError ??= e as Error;
    }
  }

  private async loop(): Promise<WatchEndSignal> {
    const period = this.o.pollIntervalMs ?? WATCH_POLL_INTERVAL_MS;
    let completedSinceMs: number | undefined;
    for (;;) {
      const tickAtMs = this.now();
      if (this.o.signal?.aborted === true) return new WatchEndSignal('interrupted', 'stopped by a signal');
      if (this.readLimitFirst) {
        // QEMU is switching over: record the downtime-limit it switched with before the final poll.
        this.readLimitFirst = false;
        await this.o.qmp.queryMigrateParameters();
      }
      this.lastLine = undefined;
      this.vfio.pollTrace(Date.now());
      const info = await this.o.qmp.queryMigrate();
      if (this.wireError !== undefined) throw this.wireError;
      const line = this.lastLine as RecordedLine | undefined;
      if (line?.kind === 'skipped-poll' && line.why === 'no-statistics-yet') {
        this.st.status = 'completed';
        this.markSwitchover();
        completedSinceMs ??= this.now();
        if (this.now() - completedSinceMs > COMPLETION_STATS_TIMEOUT_MS) {
          return new WatchEndSignal('no-statistics', `QEMU gave no completion statistics within ${COMPLETION_STATS_TIMEOUT_MS} ms`);
        }
      } else if (line?.kind === 'poll') {
        if (MIGRATION_FINAL_STATUSES.has(line.poll.status)) {
          this.st.status = line.poll.status;
          if (line.poll.status === 'completed') this.markSwitchover();
          return WatchEndSignal.forStatus(line.poll.status, info['error-desc']);
        }
        await this.onPoll(line.poll);
      }
      await sleep(Math.max(0, tickAtMs + period - this.now()), undefined, { signal: this.wake.signal }).catch(() => undefined);
    }
  }

  private async onPoll(poll: QmpPoll): Promise<void> {
    this.st.status = poll.status;
    if (poll.status === 'device') this.markSwitchover();
    this.tracker ??= new SnapshotTracker(poll.atMs);
    const figures = pollFigures(poll);
    await this.followLimit(poll);
    if (this.st.committed !== null) {
      this.emit({ type: 'poll', ...figures, reason: 'COMMITTED' });
      if (this.st.driving && poll.status === 'active') await this.driver?.release(poll);
      return;
    }
    const snap = this.tracker.observe(poll);
    if (!snap.ready) {
      this.emit({ type: 'poll', ...figures, reason: snap.reason });
      return;
    }
    // With the source's version: its stack's calibration and arc placement (`estimators/stack.ts`).
    const qemuVersion = this.recorder.sourceQemuVersion;
    const snapshot = { ...snap.snapshot, ...this.channels, devices: this.vfio.devices(this.o.model), ...(qemuVersion === undefined ? {} : { qemuVersion }) };
    const decision = decide(snapshot, this.o.model, this.o.slo);
    this.st.lastDecision = decision;
    const driver = this.st.driving && this.st.switchoverBy === null ? this.driver : undefined;
    // The decision first, then what acting on it did (limit, throttle, cancel entries).
    this.emit({ type: 'decision', ...figures, decision, acted: driver?.plan(decision) ?? false });
    await driver?.act(decision, poll, figures.atMs);
  }

  /**
   * Without `drive` the operator may change `downtime-limit` (Nova and KubeVirt ramp it): read it
   * at every new pass, and when the switchover begins (`STOP`), so that the log and the `qemu`
   * outcome carry the limit QEMU switched with, as the importer reads it from the log.
   */
  private async followLimit(poll: QmpPoll): Promise<void> {
    const pass = poll.ram?.dirtySyncCount;
    if (this.o.drive || pass === undefined || pass === this.lastPass) return;
    this.lastPass = pass;
    await this.o.qmp.queryMigrateParameters();
  }

  /** The switchover began (STOP, `device`, `completed`): by the governor if QEMU had taken the release. */
  private markSwitchover(): void {
    if (this.st.switchoverBy !== null) return;
    this.st.switchoverBy = this.st.releasedAtWire ? 'governor' : 'qemu';
    if (this.st.switchoverBy === 'qemu' && this.st.driving) {
      this.note('QEMU switched over before the governor committed: the hold leaked (QEMU found less pending than 1 ms of its bandwidth)');
    }
  }

  private onWire(w: QmpWireLine): void {
    try {
      const rec = this.recorder.onWire(w);
      if (w.direction !== 'in') return;
      if (rec.kind === 'poll' || rec.kind === 'skipped-poll') this.lastLine = rec;
      this.driver?.onWire(w);
      if (w.kind === 'event') this.onEventLine(w.line);
    } catch (e) {
      this.wireError ??= e as Error;
    }
  }

  private onEventLine(line: string): void {
    const v = JSON.parse(line) as { event: string; data?: Record<string, unknown>; timestamp?: { seconds: number; microseconds: number } };
    const data = v.data ?? {};
    const qemuAtMs = (v.timestamp?.seconds ?? 0) * 1000 + (v.timestamp?.microseconds ?? 0) / 1000;
    this.emit({ type: 'event', event: v.event, data, qemuAtMs });
    const switching = (v.event === 'STOP' || (v.event === 'MIGRATION' && data['status'] === 'completed')) && this.recorder.phase === 'recording';
    if (switching && !this.o.drive) this.readLimitFirst = true;
    if (v.event === 'STOP' && this.recorder.phase === 'recording') this.markSwitchover();
    if (v.event === 'MIGRATION' && typeof data['status'] === 'string') this.st.status = data['status'];
    if (v.event === 'SHUTDOWN') this.st.shutdown = typeof data['reason'] === 'string' ? data['reason'] : 'no reason given';
    if (v.event === 'VFIO_MIGRATION') this.vfio.source.onEvent(line, data, qemuAtMs);
  }
}

/**
 * How the migration uses channels, as `decide()` takes it: with the `multifd` capability,
 * `multifd-channels` (QEMU's default when the reply has none), and from
 * QEMU 10.0 on device state over multifd too — vfio-pci's `x-migration-multifd-transfer`
 * defaults to AUTO, on whenever multifd is (`vfio_multifd_transfer_supported()`,
 * `hw/vfio/migration-multifd.c`; a device set to `off` is not seen here). Without multifd: the
 * main channel, device state included.
 */
export function multifdOf(multifd: boolean, channels: number | undefined, qemuVersion: string): { multifdChannels?: number; deviceStateMultifd?: boolean } {
  const major = Number.parseInt(qemuVersion, 10);
  if (!multifd) return Number.isFinite(major) && major >= 10 ? { deviceStateMultifd: false } : {};
  return { multifdChannels: channels ?? QEMU_DEFAULT_MULTIFD_CHANNELS, ...(Number.isFinite(major) && major >= 10 ? { deviceStateMultifd: true } : {}) };
}
