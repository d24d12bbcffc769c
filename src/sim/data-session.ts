/**
 * The byte accounting of one simulated device: the saving data session (PRE_COPY's initial and
 * dirty bytes, the STOP_COPY stream) and the resuming one (bytes written, state allocated).
 * State transitions come from the device; this class only keeps the numbers consistent with
 * the uAPI (`include/uapi/linux/vfio.h`, `VFIO_MIG_GET_PRECOPY_INFO` and the FSM arc comments).
 */
import { MigState } from '../fsm/index.js';
import type { SimProfile } from './profiles.js';

const { STOP_COPY, RESUMING, PRE_COPY, PRE_COPY_P2P } = MigState;

function isPrecopy(state: MigState): boolean {
  return state === PRE_COPY || state === PRE_COPY_P2P;
}

/** True for PRE_COPY, PRE_COPY_P2P and STOP_COPY, the uAPI's "saving group" sharing one data fd. */
export function isSavingState(state: MigState): boolean {
  return state === PRE_COPY || state === PRE_COPY_P2P || state === STOP_COPY;
}

/** Number of fields `snapshot` keeps. */
export const SNAPSHOT_SIZE = 6;

/** Byte accounting of one device. Sizes are bytes; `dirty` is kept fractional, reported rounded. */
export class DataSession {
  /** Device state size: what a STOP_COPY without pre-copy sends. */
  stateBytes: number;
  /** Rate dirty bytes grow in a PRE_COPY state. */
  dirtyRateBytesPerS: number;
  /** PRE_COPY: initial data not read yet. */
  initialBytes = 0;
  private dirty = 0;
  private dirtySyncMs = 0;
  /** STOP_COPY: bytes of the stream not read yet. */
  stopCopyRemainingBytes = 0;
  /** RESUMING: bytes written into the data fd. */
  resumeBytes = 0;
  /** RESUMING: state already allocated from initial data (switchover-ack pre-load). */
  allocatedBytes = 0;
  /** PRE_COPY: a re-init happened that PRECOPY_INFO has not reported yet. */
  reinitPending = false;

  constructor(
    private readonly profile: SimProfile,
    stateBytes: number,
    dirtyRateBytesPerS: number,
  ) {
    this.stateBytes = stateBytes;
    this.dirtyRateBytesPerS = dirtyRateBytesPerS;
  }

  /** Dirty bytes now (rounded). */
  dirtyBytes(state: MigState, nowMs: number): number {
    this.syncDirty(state, nowMs);
    return Math.round(this.dirty);
  }

  /** Accrues the dirtying since the last sync; dirty bytes saturate at the state size. */
  syncDirty(state: MigState, nowMs: number): void {
    if (isPrecopy(state) && nowMs > this.dirtySyncMs && this.dirtyRateBytesPerS > 0) {
      this.dirty = Math.min(this.stateBytes, this.dirty + (this.dirtyRateBytesPerS * (nowMs - this.dirtySyncMs)) / 1000);
    }
    this.dirtySyncMs = nowMs;
  }

  /**
   * The true MIG_DATA_SIZE: in PRE_COPY the final image plus everything pending (the size
   * includes pending pre-copy bytes, QEMU fix by Avihai Horon, 2024-10-20); in STOP_COPY what
   * the stream still holds; in RESUMING the bytes written (what the device would hold); else
   * the whole state.
   */
  stopCopyBytes(state: MigState, nowMs: number): number {
    if (isPrecopy(state)) return this.finalImageBytes() + this.initialBytes + this.dirtyBytes(state, nowMs);
    if (state === STOP_COPY) return this.stopCopyRemainingBytes;
    if (state === RESUMING) return this.resumeBytes;
    if (state === MigState.ERROR) return 0;
    return this.stateBytes;
  }

  /** Destination state not yet allocated: what `RESUMING>STOP` must still allocate. */
  unallocatedBytes(): number {
    return Math.max(0, Math.min(this.resumeBytes, this.stateBytes) - this.allocatedBytes);
  }

  /** Sets the sessions up for a device created in `state`. */
  begin(state: MigState, nowMs: number): void {
    this.closeAll();
    this.dirtySyncMs = nowMs;
    if (isPrecopy(state)) this.initialBytes = Math.round(this.stateBytes * this.profile.initialFraction);
    else if (state === STOP_COPY) this.stopCopyRemainingBytes = this.stateBytes;
  }

  /** Applies the data side of a completed arc. `syncDirty` must have run at the arc's start. */
  completeArc(from: MigState, to: MigState, nowMs: number): void {
    // A re-init not yet reported belongs to the PRE_COPY session it happened in.
    if (!isPrecopy(to) || !isSavingState(from)) this.reinitPending = false;
    if (isPrecopy(to) && !isSavingState(from)) {
      // RUNNING → PRE_COPY, RUNNING_P2P → PRE_COPY_P2P: a new saving session, initial image.
      this.initialBytes = Math.round(this.stateBytes * this.profile.initialFraction);
      this.dirty = 0;
    } else if (to === STOP_COPY) {
      // The final image snapshots everything pending (from PRE_COPY_P2P) or the whole state (from STOP).
      this.stopCopyRemainingBytes = isPrecopy(from)
        ? this.finalImageBytes() + this.initialBytes + Math.round(this.dirty)
        : this.stateBytes;
      this.initialBytes = 0;
      this.dirty = 0;
    } else if (isSavingState(from) && !isSavingState(to)) {
      // Leaving the saving group terminates the data session (uAPI arc comments).
      this.closeSaving();
    } else if (to === RESUMING) {
      this.resumeBytes = 0;
      this.allocatedBytes = 0;
    } else if (from === RESUMING) {
      // The loaded state is now the device's state.
      if (this.resumeBytes > 0) this.stateBytes = this.resumeBytes;
      this.resumeBytes = 0;
      this.allocatedBytes = 0;
    }
    // Device activity during the arc is not counted: dirtying restarts from the arc's end.
    this.dirtySyncMs = nowMs;
  }

  /**
   * `read()` on the saving fd: PRE_COPY drains initial bytes first, then dirty bytes (the order
   * QEMU's `vfio_update_estimated_pending_data()` assumes); STOP_COPY drains the stream. Returns
   * the bytes read; 0 is PRE_COPY's temporary end of stream (ENOMSG) or STOP_COPY's end.
   */
  read(state: MigState, maxBytes: number, nowMs: number): number {
    if (state === STOP_COPY) {
      const n = Math.min(maxBytes, this.stopCopyRemainingBytes);
      this.stopCopyRemainingBytes -= n;
      return n;
    }
    this.syncDirty(state, nowMs);
    const fromInitial = Math.min(maxBytes, this.initialBytes);
    this.initialBytes -= fromInitial;
    const fromDirty = Math.min(maxBytes - fromInitial, Math.round(this.dirty));
    this.dirty = Math.max(0, this.dirty - fromDirty);
    return fromInitial + fromDirty;
  }

  /**
   * New initial data appeared in PRE_COPY (`VFIO_PRECOPY_INFO_REINIT`, `include/uapi/linux/vfio.h`):
   * dirty bytes not read yet become initial bytes, with the new chunk on top (mlx5: "any
   * previously dirty bytes in memory are treated as initial bytes", Hadas 2026-02-24), and
   * dirty bytes restart from 0.
   */
  reinit(state: MigState, chunkBytes: number, nowMs: number): void {
    this.syncDirty(state, nowMs);
    this.initialBytes += Math.round(this.dirty) + chunkBytes;
    this.dirty = 0;
    this.reinitPending = true;
  }

  /** v1 devices: new state can only appear as dirty bytes (at most the state size). */
  addDirty(state: MigState, bytes: number, nowMs: number): void {
    this.syncDirty(state, nowMs);
    this.dirty = Math.min(this.stateBytes, this.dirty + bytes);
  }

  /** Copies the accounting into `into` (length ≥ SNAPSHOT_SIZE), to undo a failed request. */
  snapshot(into: Float64Array): void {
    into[0] = this.stateBytes;
    into[1] = this.initialBytes;
    into[2] = this.dirty;
    into[3] = this.stopCopyRemainingBytes;
    into[4] = this.resumeBytes;
    into[5] = this.allocatedBytes;
  }

  /** Restores a `snapshot`, dirtying restarting at `nowMs`. */
  restore(from: Float64Array, nowMs: number): void {
    this.stateBytes = from[0]!;
    this.initialBytes = from[1]!;
    this.dirty = from[2]!;
    this.stopCopyRemainingBytes = from[3]!;
    this.resumeBytes = from[4]!;
    this.allocatedBytes = from[5]!;
    this.dirtySyncMs = nowMs;
  }

  /** Closes every session (ERROR, reset). */
  closeAll(): void {
    this.closeSaving();
    this.resumeBytes = 0;
    this.allocatedBytes = 0;
  }

  private closeSaving(): void {
    this.initialBytes = 0;
    this.dirty = 0;
    this.stopCopyRemainingBytes = 0;
  }

  private finalImageBytes(): number {
    return Math.round(this.stateBytes * this.profile.finalImageFraction);
  }
}
