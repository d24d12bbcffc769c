/**
 * One pass-through device as a migration moves it: the source VF, the destination VF, and the
 * byte bookkeeping between them (what pre-copy read, what the destination was given and has
 * loaded). The numbers here are the simulator's truth; policies see devices only through the
 * uAPI calls (`stopCopyBytes()`, `precopyInfo()`, `getState()`).
 */
import { MigFlags, MigState } from '../../fsm/index.js';
import type { Clock } from '../clock.js';
import { SimDevice } from '../sim-device.js';
import type { DeviceSpec } from './vm-spec.js';

/** A device's source and destination, and what has moved between them. */
export class DevicePair {
  readonly spec: DeviceSpec;
  readonly src: SimDevice;
  readonly dst: SimDevice;
  /** The source supports PRE_COPY (so QEMU iterates it and the destination must ACK). */
  readonly precopy: boolean;
  /** `initial_bytes` left after the last pre-copy read. */
  pendingInitialBytes = 0;
  /** `dirty_bytes` left after the last pre-copy read. */
  pendingDirtyBytes = 0;
  /** Bytes read from the source during pre-copy (initial and dirty). */
  precopySentBytes = 0;
  /** Bytes written into the destination's RESUMING fd. */
  destWrittenBytes = 0;
  /** Destination state allocated ahead of the switchover (switchover-ack pre-load). */
  destAllocatedBytes = 0;
  /** Bytes the source streamed into the destination in the last switchover's blackout. */
  lastStreamBytes = 0;
  /** switchover-ack: `none` until the initial data is in, `loading` while it is processed, then `acked`. */
  ack: 'none' | 'loading' | 'acked' = 'none';
  private loading: Promise<void> | null = null;
  /** A re-init came while the destination was loading: that load's ack would be stale. */
  private staleLoad = false;

  constructor(spec: DeviceSpec, clock: Clock) {
    this.spec = spec;
    this.src = new SimDevice({ id: `src-${spec.id}`, profile: spec.profile, clock, rng: spec.seed, precopyInfoV2: spec.precopyInfoV2 ?? false, ...(spec.stateBytes === undefined ? {} : { stateBytes: spec.stateBytes }) });
    this.dst = new SimDevice({
      id: `dst-${spec.id}`,
      profile: spec.profile,
      clock,
      rng: spec.destSeed,
      role: 'destination',
      stateBytes: this.src.stateBytes,
    });
    this.precopy = (this.src.flags & MigFlags.PRE_COPY) !== 0;
  }

  /** The source is in PRE_COPY or PRE_COPY_P2P. */
  get inPrecopy(): boolean {
    const s = this.src.getState();
    return s === MigState.PRE_COPY || s === MigState.PRE_COPY_P2P;
  }

  /**
   * Reads up to `maxBytes` of pre-copy data from the source (initial first, then dirty, as QEMU's
   * `vfio_save_iterate`), hands the initial data to the destination, and starts the
   * destination's initial-data load once all of it is there. Returns the bytes read.
   *
   * Re-sent dirty data goes over the link but is not written to the simulated destination:
   * `SimDevice` charges every byte ever written at `RESUMING>STOP` (0.3 ms/MB for mlx5), so a
   * device dirtying 2 MB/s for minutes would load for hundreds of ms more, which no published
   * figure supports (the profile's load slope was set for one state image). See the report.
   */
  async readPrecopy(maxBytes: number, switchoverAck: boolean): Promise<number> {
    if (!this.inPrecopy) return 0;
    const info = await this.src.precopyInfo();
    // New initial data: the destination's ack no longer covers it; QEMU asks again once it is in.
    if (info.reinit === true) {
      if (this.ack === 'acked') this.ack = 'none';
      else if (this.ack === 'loading') this.staleLoad = true;
    }
    const n = this.src.readData(Math.max(0, Math.floor(maxBytes)));
    const fromInitial = Math.min(n, info.initialBytes);
    this.pendingInitialBytes = info.initialBytes - fromInitial;
    this.pendingDirtyBytes = Math.max(0, info.dirtyBytes - (n - fromInitial));
    this.precopySentBytes += n;
    if (fromInitial > 0) {
      this.dst.writeData(fromInitial);
      this.destWrittenBytes += fromInitial;
    }
    if (switchoverAck && this.ack === 'none' && this.pendingInitialBytes === 0) this.startAck();
    return n;
  }

  /** True when this device does not hold the switchover back (QEMU `can_switchover`, ST §1.5). */
  acked(switchoverAck: boolean): boolean {
    return !switchoverAck || !this.precopy || this.ack === 'acked';
  }

  /** Waits for an initial-data load in flight (so no promise outlives its migration). */
  async settle(): Promise<void> {
    if (this.loading !== null) await this.loading;
  }

  private startAck(): void {
    this.ack = 'loading';
    const allocating = Math.max(0, Math.min(this.destWrittenBytes, this.dst.stateBytes) - this.destAllocatedBytes);
    this.loading = this.dst.loadInitialData().then(() => {
      this.destAllocatedBytes += allocating;
      this.ack = this.staleLoad ? 'none' : 'acked';
      this.staleLoad = false;
      this.loading = null;
    });
  }
}
