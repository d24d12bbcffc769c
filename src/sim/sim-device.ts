/**
 * A simulated VFIO migration device: kernel-exact FSM, per-arc latencies on a virtual clock,
 * seeded noise, pre-copy and resume data accounting, and fault injection.
 */
import { Subject, type Observable } from 'rxjs';
import { stateAfterFailedArc } from '../device/after-failure.js';
import { DeviceError, type DeviceErrno } from '../device/errors.js';
import type { MigrationDevice, PrecopyInfo } from '../device/types.js';
import { FsmError, MigState, isMigState, isStateSupported, isValidFlagSet, planPath, stateName } from '../fsm/index.js';
import { ARC_KEYS, arcModelTable, type ArcModelTable } from './arc-table.js';
import type { Clock } from './clock.js';
import { DataSession, SNAPSHOT_SIZE, isSavingState } from './data-session.js';
import { SimError, checkNonNegative } from './errors.js';
import { FaultPlan, type FaultConfig, type OneShotFault } from './faults.js';
import { medianArcLatencyMs, sampleArcLatencyMs, type SimArcModel } from './latency.js';
import { SIM_PROFILES, type SimProfile, type SimProfileName, type SizeEstimateError } from './profiles.js';
import { Rng } from './rng.js';

/** How to build a {@link SimDevice}. */
export interface SimDeviceOptions {
  readonly id: string;
  readonly profile: SimProfile | SimProfileName;
  readonly clock: Clock;
  /**
   * A generator (give each device its own `rng.fork()`) or a seed. The device splits it into
   * independent streams for arcs and for size queries, so polling sizes more or less often
   * does not change any arc's latency (common random numbers across policies).
   */
  readonly rng: Rng | number;
  /** `destination` starts in RESUMING, ready for `writeData`. Default `source` (RUNNING). */
  readonly role?: 'source' | 'destination';
  /** Start state; overrides `role`. ERROR is allowed (a device that needs a reset). */
  readonly initialState?: MigState;
  /** Override the profile's flags (must be a valid set the profile has arc models for). */
  readonly flags?: number;
  /**
   * State size; default drawn uniformly from the profile's range. On a destination: the size of
   * the state it will receive (pass the source's), which bounds what `RESUMING>STOP` or
   * `loadInitialData()` allocates.
   */
  readonly stateBytes?: number;
  readonly dirtyRateBytesPerS?: number;
  readonly sizeEstimate?: SizeEstimateError;
  readonly faults?: FaultConfig;
  /** `false`: every arc takes exactly its median latency (one-shot overruns still apply). */
  readonly latencyNoise?: boolean;
  /**
   * Userspace opted in to `VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2`, so `precopyInfo()` may report
   * `reinit` (only on a profile with `precopyReinit`). Default false: the v1 behaviour, where
   * `initial_bytes` only ever falls.
   */
  readonly precopyInfoV2?: boolean;
}

/** One arc the device ran, as it happened. */
export interface SimArcEvent {
  readonly deviceId: string;
  readonly deviceModel: string;
  readonly from: MigState;
  readonly to: MigState;
  readonly startedAtMs: number;
  readonly latencyMs: number;
  /** True MIG_DATA_SIZE when the arc started (on a RESUMING destination, bytes written). */
  readonly stopCopyBytes: number;
  readonly ok: boolean;
  readonly errno?: DeviceErrno;
  /** `to` when ok; otherwise where the failure left the device. */
  readonly stateAfter: MigState;
  /** 1, or the injected overrun factor. */
  readonly latencyMultiplier: number;
}

/**
 * A {@link MigrationDevice} on a {@link Clock}. `setState` plans the path with the kernel's FSM
 * and runs it arc by arc; each arc sleeps its latency on the clock, then commits. Requests the
 * FSM rejects fail with EINVAL and change nothing. A failing arc leaves the device where the
 * fault says (original state, last state reached, or ERROR). Every arc, failed ones included,
 * is published on `arcs$`.
 *
 * While a request is in flight `getState()` reports the last state reached (the kernel would
 * block on its state mutex), and a second request rejects with EBUSY: one device serves one
 * caller at a time.
 */
export class SimDevice implements MigrationDevice {
  readonly id: string;
  readonly model: string;
  readonly flags: number;
  readonly profile: SimProfile;
  /** Every arc run, failed ones included. Subscribe before stepping. */
  readonly arcs$: Observable<SimArcEvent>;

  private state: MigState;
  private inFlight = false;
  private readonly clock: Clock;
  private readonly arcRng: Rng;
  private readonly sizeRng: Rng;
  private readonly table: ArcModelTable;
  private readonly data: DataSession;
  private readonly faults: FaultPlan;
  private readonly sizeError: SizeEstimateError;
  private readonly noise: boolean;
  private readonly precopyInfoV2: boolean;
  private readonly arcSubject = new Subject<SimArcEvent>();
  private readonly undo = new Float64Array(SNAPSHOT_SIZE);

  constructor(options: SimDeviceOptions) {
    const profile = typeof options.profile === 'string' ? SIM_PROFILES[options.profile] : options.profile;
    if (profile === undefined) throw new SimError('E_SIM_CONFIG', `unknown device profile "${String(options.profile)}"`);
    this.id = options.id;
    this.profile = profile;
    this.model = profile.name;
    this.flags = options.flags ?? profile.flags;
    if (!isValidFlagSet(this.flags)) throw new SimError('E_SIM_CONFIG', `device ${this.id}: invalid flags ${this.flags}`);
    this.table = arcModelTable(profile, this.flags);
    this.clock = options.clock;
    const root = typeof options.rng === 'number' ? new Rng(options.rng) : options.rng;
    // Drawn even when given, so a device's streams do not depend on whether its size was fixed.
    const drawnBytes = Math.round(root.uniform(profile.stateBytesMin, profile.stateBytesMax));
    const stateBytes = options.stateBytes ?? drawnBytes;
    checkByteCount(this.id, stateBytes);
    this.arcRng = root.fork();
    this.sizeRng = root.fork();
    const dirtyRate = options.dirtyRateBytesPerS ?? profile.dirtyRateBytesPerS;
    checkNonNegative(`device ${this.id}: dirtyRateBytesPerS`, dirtyRate);
    this.data = new DataSession(profile, stateBytes, dirtyRate);
    this.faults = new FaultPlan(options.faults);
    this.sizeError = options.sizeEstimate ?? profile.sizeEstimate;
    this.noise = options.latencyNoise ?? true;
    this.precopyInfoV2 = options.precopyInfoV2 ?? false;
    this.state = options.initialState ?? (options.role === 'destination' ? MigState.RESUMING : MigState.RUNNING);
    if (!isMigState(this.state) || (this.state !== MigState.ERROR && !isStateSupported(this.state, this.flags))) {
      throw new SimError('E_SIM_CONFIG', `device ${this.id}: initial state ${String(this.state)} is not supported by its flags`);
    }
    this.data.begin(this.state, this.clock.nowMs);
    this.arcs$ = this.arcSubject.asObservable();
  }

  getState(): MigState {
    return this.state;
  }

  /** True while a `setState`, `loadInitialData` or `reset` is running. */
  get busy(): boolean {
    return this.inFlight;
  }

  /** The device's state size (after a load on a destination: the loaded size). */
  get stateBytes(): number {
    return this.data.stateBytes;
  }

  /** Rate dirty bytes grow in PRE_COPY; settable to model a workload change. */
  get dirtyRateBytesPerS(): number {
    return this.data.dirtyRateBytesPerS;
  }
  set dirtyRateBytesPerS(rate: number) {
    checkNonNegative(`device ${this.id}: dirtyRateBytesPerS`, rate);
    this.data.syncDirty(this.state, this.clock.nowMs);
    this.data.dirtyRateBytesPerS = rate;
  }

  /** The true latency model of arc `from → to` (undefined if the flags have no such arc). */
  arcModel(from: MigState, to: MigState): SimArcModel | undefined {
    return this.table[from * 8 + to];
  }

  /** Ground truth MIG_DATA_SIZE, without estimate error or faults (for tests and oracles). */
  trueStopCopyBytes(): number {
    return this.data.stopCopyBytes(this.state, this.clock.nowMs);
  }

  /** Queues a one-shot fault (see {@link OneShotFault}). */
  injectFault(fault: OneShotFault): void {
    this.faults.inject(fault);
  }

  async setState(target: MigState): Promise<void> {
    const operation = `SET_STATE ${isMigState(target) ? stateName(target) : String(target)}`;
    this.claim(operation);
    const cur = this.state;
    let path: MigState[];
    try {
      path = planPath(cur, target, this.flags);
    } catch (e) {
      this.inFlight = false;
      if (e instanceof FsmError) throw new DeviceError('EINVAL', this.id, operation, cur, e.why);
      throw e;
    }
    try {
      this.data.snapshot(this.undo);
      let from = cur;
      for (let i = 0; i < path.length; i++) {
        const to = path[i]!;
        const model = this.table[from * 8 + to]!;
        const startedAtMs = this.clock.nowMs;
        this.data.syncDirty(from, startedAtMs);
        const bytes = this.data.stopCopyBytes(from, startedAtMs);
        const unallocated = from === MigState.RESUMING ? this.data.unallocatedBytes() : 0;
        const fault = this.faults.decideArc(ARC_KEYS[from * 8 + to]!, this.arcRng);
        const failErrno = fault.failErrno;
        const failAfter = fault.failAfter;
        const multiplier = fault.latencyMultiplier;
        const latencyMs =
          multiplier *
          (this.noise
            ? sampleArcLatencyMs(model, this.profile.noise, this.arcRng, bytes, unallocated)
            : medianArcLatencyMs(model, bytes, unallocated));
        await this.clock.sleep(latencyMs);
        if (failErrno !== undefined) {
          const after = stateAfterFailedArc(cur, path, i, failAfter);
          this.landAfterFailure(after);
          this.emit(from, to, startedAtMs, latencyMs, bytes, failErrno, after, multiplier);
          throw new DeviceError(failErrno, this.id, operation, after, `arc ${ARC_KEYS[from * 8 + to]!} failed`);
        }
        this.data.completeArc(from, to, this.clock.nowMs);
        this.state = to;
        this.emit(from, to, startedAtMs, latencyMs, bytes, undefined, to, multiplier);
        from = to;
      }
    } finally {
      this.inFlight = false;
    }
  }

  /**
   * MIG_DATA_SIZE: the true size times `1 + biasRel ± noiseRel`, rounded. Answers at once
   * (no clock time). Rejects with the injected errno, or EIO in ERROR.
   */
  stopCopyBytes(): Promise<number> {
    if (this.state === MigState.ERROR) return Promise.reject(this.error('EIO', 'MIG_DATA_SIZE', 'device is in ERROR'));
    const errno = this.faults.decideSizeQuery(this.sizeRng);
    if (errno !== undefined) return Promise.reject(this.error(errno, 'MIG_DATA_SIZE', 'size query failed'));
    const { biasRel, noiseRel } = this.sizeError;
    const factor = 1 + biasRel + (noiseRel > 0 ? this.sizeRng.uniform(-noiseRel, noiseRel) : 0);
    return Promise.resolve(Math.max(0, Math.round(this.trueStopCopyBytes() * factor)));
  }

  /**
   * VFIO_MIG_GET_PRECOPY_INFO. Rejects with EINVAL outside PRE_COPY states, as the uAPI says the
   * driver should ("valid only in PRE_COPY states").
   */
  precopyInfo(): Promise<PrecopyInfo> {
    const s = this.state;
    if (s !== MigState.PRE_COPY && s !== MigState.PRE_COPY_P2P) {
      return Promise.reject(this.error('EINVAL', 'PRECOPY_INFO', 'not in a PRE_COPY state'));
    }
    const info = { initialBytes: this.data.initialBytes, dirtyBytes: this.data.dirtyBytes(s, this.clock.nowMs) };
    if (!this.data.reinitPending) return Promise.resolve(info);
    this.data.reinitPending = false;
    return Promise.resolve({ ...info, reinit: true });
  }

  /**
   * The device's state grows by `chunkBytes` of critical data during PRE_COPY (e.g. it was
   * reconfigured). With `precopyInfoV2` on a profile with `precopyReinit` this is a re-init:
   * the chunk and the unread dirty bytes become initial bytes and the next `precopyInfo()`
   * reports `reinit`. Otherwise (v1) the chunk can only show up as dirty bytes. EINVAL outside
   * PRE_COPY states.
   */
  growPrecopyState(chunkBytes: number): void {
    const s = this.state;
    if (s !== MigState.PRE_COPY && s !== MigState.PRE_COPY_P2P) throw this.error('EINVAL', 'PRECOPY_INFO', 'not in a PRE_COPY state');
    checkByteCount(this.id, chunkBytes);
    if (this.precopyInfoV2 && this.profile.precopyReinit === true) this.data.reinit(s, chunkBytes, this.clock.nowMs);
    else this.data.addDirty(s, chunkBytes, this.clock.nowMs);
  }

  /**
   * `read()` on the saving data fd, up to `maxBytes`: PRE_COPY drains initial then dirty bytes,
   * STOP_COPY the final stream. Returns bytes read; 0 is the (temporary) end of stream. The time
   * to move the bytes is the caller's link model, not the device's. EINVAL without a saving session.
   */
  readData(maxBytes: number): number {
    if (!isSavingState(this.state)) throw this.error('EINVAL', 'read', 'no saving data session');
    checkByteCount(this.id, maxBytes);
    return this.data.read(this.state, maxBytes, this.clock.nowMs);
  }

  /** `write()` into the RESUMING data fd. EINVAL outside RESUMING. */
  writeData(bytes: number): void {
    if (this.state !== MigState.RESUMING) throw this.error('EINVAL', 'write', 'not in RESUMING');
    checkByteCount(this.id, bytes);
    this.data.resumeBytes += bytes;
  }

  /**
   * Destination: process the initial data written so far (QEMU switchover-ack), allocating the
   * state it describes now instead of inside `RESUMING>STOP`. Takes that allocation time.
   */
  async loadInitialData(): Promise<void> {
    this.claim('load initial data');
    try {
      if (this.state !== MigState.RESUMING) throw this.error('EINVAL', 'load initial data', 'not in RESUMING');
      const bytes = this.data.unallocatedBytes();
      const model = this.table[MigState.RESUMING * 8 + MigState.STOP];
      await this.clock.sleep((model?.allocationMsPerByte ?? 0) * bytes);
      this.data.allocatedBytes += bytes;
    } finally {
      this.inFlight = false;
    }
  }

  /** VFIO_DEVICE_RESET: from any state (the only way out of ERROR) to RUNNING, sessions closed. */
  async reset(): Promise<void> {
    this.claim('VFIO_DEVICE_RESET');
    try {
      await this.clock.sleep(this.profile.resetMs);
      this.data.closeAll();
      this.state = MigState.RUNNING;
    } finally {
      this.inFlight = false;
    }
  }

  private claim(operation: string): void {
    if (this.inFlight) throw this.error('EBUSY', operation, 'another request is in flight');
    this.inFlight = true;
  }

  private landAfterFailure(after: MigState): void {
    if (after === MigState.ERROR) this.data.closeAll();
    else if (after !== this.state) this.data.restore(this.undo, this.clock.nowMs); // back to the original state
    this.state = after;
  }

  private emit(
    from: MigState,
    to: MigState,
    startedAtMs: number,
    latencyMs: number,
    stopCopyBytes: number,
    errno: DeviceErrno | undefined,
    stateAfter: MigState,
    latencyMultiplier: number,
  ): void {
    if (!this.arcSubject.observed) return;
    const { id: deviceId, model: deviceModel } = this;
    this.arcSubject.next(
      errno === undefined
        ? { deviceId, deviceModel, from, to, startedAtMs, latencyMs, stopCopyBytes, ok: true, stateAfter, latencyMultiplier }
        : { deviceId, deviceModel, from, to, startedAtMs, latencyMs, stopCopyBytes, ok: false, errno, stateAfter, latencyMultiplier },
    );
  }

  private error(code: DeviceErrno, operation: string, detail: string): DeviceError {
    return new DeviceError(code, this.id, operation, this.state, detail);
  }
}

function checkByteCount(id: string, bytes: number): void {
  if (!Number.isInteger(bytes) || bytes < 0) {
    throw new SimError('E_SIM_CONFIG', `device ${id}: a byte count must be an integer ≥ 0, got ${String(bytes)}`);
  }
}
