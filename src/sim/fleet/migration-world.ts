/**
 * One live migration of one VM on its own virtual clock: pre-copy in QEMU's 100 ms windows
 * (device pre-copy data, then RAM pages, on the throttled pre-copy link), and the switchover
 * whose blackout is the sum of what really happens on the simulated devices and link:
 *
 *   vCPU stop → source devices into STOP_COPY (`SimDevice` arcs, one after another)
 *   → final sync → RAM and device streams moved and loaded (below) → non-iterable state
 *   → destination restart arcs, one after another → VM start (+ rare stall)
 *
 * (ST §1.4, §7; PN §9.1). Nothing here predicts: the blackout is measured on the clock.
 *
 * What QEMU 10 runs per device in parallel, and what not:
 * - the arcs into STOP_COPY on the source and out of RESUMING on the destination are taken in
 *   `vm_state_notify()`, one VM-state handler after another (`vfio_vmstate_change_prepare()`,
 *   `vfio_vmstate_change()`, `hw/vfio/migration.c`): serial, with or without multifd;
 * - device STOP_COPY data over the main channel (`vfio_save_complete_precopy()` per device on the
 *   source, `vfio_load_state()` → `write()` on the destination): after RAM, one device after
 *   another, each streamed at the main channel's rate and then loaded (the `SimDevice`'s
 *   `RESUMING>STOP` arc stands for that load). mlx5 reads an image chunk by chunk and loads it
 *   inside the `write()` that completes it (`mlx5vf_resume_write()`: READ_IMAGE, then
 *   LOAD_IMAGE → `mlx5vf_cmd_load_vhca_state()`), and the main channel's thread is in that
 *   `write()` meanwhile: a load does not overlap its own stream, nor the next device's;
 * - over multifd (`x-migration-multifd-transfer`, `hw/vfio/migration-multifd.c`): a
 *   `vfio_multifd_save_complete_precopy_thread()` and a `vfio_load_bufs_thread()` per device, all
 *   in parallel with each other and with RAM on the same channels; each device's load, again,
 *   once its own image is in.
 */
import { MigState } from '../../fsm/index.js';
import type { SimArcEvent } from '../sim-device.js';
import { VirtualClock } from '../clock.js';
import { Rng } from '../rng.js';
import { attemptCosts, transferMs, type AttemptCosts } from './attempt-costs.js';
import { POLL_MS, PRECOPY_NOISE } from './constants.js';
import { channelsBytesPerS } from './vm-spec.js';
import { DevicePair } from './device-pair.js';
import { GuestRam } from './guest-ram.js';
import { arcPlacement } from '../../estimators/stack.js';
import type { VmSpec } from './vm-spec.js';

/** What `enter` is given to take the source devices into STOP_COPY. */
export interface EnterContext {
  readonly devices: readonly DevicePair[];
  /** Step devices one after another instead of in parallel (QEMU: always, `vm_state_notify()`). */
  readonly serial: boolean;
  /** Pauses the vCPUs; must be awaited before the first device arc (its time is blackout). */
  readonly onCommit: () => Promise<void>;
}

/** How entering STOP_COPY went. */
export type EnterResult =
  /** `predictedBlackoutMs`: the estimate the final commit decision was made on, when it differs from the poll's. */
  | { readonly committed: true; readonly predictedBlackoutMs?: number }
  | { readonly committed: false; readonly needsReset: boolean; readonly reason: string };

/** Takes the source devices into STOP_COPY (QEMU's `vm_stop`, or a governor's `DeadlineSetState`). */
export type EnterStopCopy = (ctx: EnterContext) => Promise<EnterResult>;

/**
 * QEMU's way: pause the vCPUs, then every device straight to STOP_COPY, one after another
 * (`vm_state_notify()` runs the devices' VM-state handlers in turn, whatever `ctx.serial` says).
 */
export const enterDirect: EnterStopCopy = async (ctx) => {
  await ctx.onCommit();
  await forEachPair(ctx.devices, true, (p) => p.src.setState(MigState.STOP_COPY));
  return { committed: true };
};

/** A completed switchover, measured. */
export interface CompletedSwitchover {
  readonly kind: 'completed';
  readonly attempt: number;
  /** vCPUs paused on the source, ms (the decision instant). */
  readonly stopAtMs: number;
  /** vCPUs running on the destination, ms. */
  readonly endAtMs: number;
  readonly blackoutMs: number;
  readonly ramBlackoutBytes: number;
  readonly deviceStreamBytes: readonly number[];
  readonly transferMs: number;
  readonly costs: AttemptCosts;
  /** From the enter function, when it re-decided at the commit. */
  readonly predictedBlackoutMs?: number;
}

/** What one switchover attempt came to. */
export type SwitchoverOutcome =
  | CompletedSwitchover
  /** The enter function decided not to commit: nothing happened. */
  | { readonly kind: 'not-committed'; readonly reason: string }
  /** Committed, then brought back (vCPUs resumed on the source after `pausedMs`). */
  | { readonly kind: 'unwound'; readonly attempt: number; readonly pausedMs: number; readonly reason: string }
  /** Brought back, but a device needs a reset: the migration cannot go on. */
  | { readonly kind: 'failed'; readonly attempt: number; readonly pausedMs: number; readonly reason: string };

/** Hooks a recorder uses; all optional. */
export interface WorldObserver {
  /** After a bitmap sync (pass boundary, QEMU's exact path, the final sync). */
  onSync?(world: MigrationWorld): void;
  /** Every device arc, source and destination. */
  onArc?(event: SimArcEvent, world: MigrationWorld): void;
}

/** Options of {@link MigrationWorld.start}. */
export interface WorldOptions {
  /** QEMU auto-converge runs when the VM has it on and the policy leaves throttling to QEMU. */
  readonly autoConverge: boolean;
  readonly observer?: WorldObserver;
}

/** A VM being migrated. See the module comment. */
export class MigrationWorld {
  readonly spec: VmSpec;
  readonly clock: VirtualClock;
  readonly ram: GuestRam;
  readonly pairs: readonly DevicePair[];
  /** Polls run so far. */
  pollIndex = 0;
  /** Bytes/s put on the wire in the last window (QEMU's `bandwidth`, `ram.mbps`). */
  windowBytesPerS = 0;
  /** Committed switchover attempts so far (vCPUs paused), completed or unwound. */
  attempts = 0;
  /** Pre-copy time lost to unwound attempts (vCPUs paused, then resumed on the source), ms. */
  pausedInUnwindsMs = 0;
  private readonly pollRng: Rng;
  private readonly observer: WorldObserver | undefined;

  private constructor(spec: VmSpec, options: WorldOptions) {
    this.spec = spec;
    this.clock = new VirtualClock();
    this.ram = new GuestRam({
      ramBytes: spec.ramBytes,
      nonZeroFraction: spec.nonZeroFraction,
      dirtyBytesPerS: spec.dirtyBytesPerS,
      wwsBytes: spec.wwsBytes,
      autoConverge: options.autoConverge,
    });
    this.pairs = spec.devices.map((d) => new DevicePair(d, this.clock));
    this.pollRng = Rng.from(`precopy/${spec.seed}`);
    this.observer = options.observer;
    const observer = this.observer;
    if (observer?.onArc !== undefined) {
      const onArc = observer.onArc.bind(observer);
      for (const p of this.pairs) {
        p.src.arcs$.subscribe((e) => onArc(e, this));
        p.dst.arcs$.subscribe((e) => onArc(e, this));
      }
    }
  }

  /** Builds the VM and sets migration up: PRE_COPY-capable sources enter PRE_COPY (QEMU `vfio_save_setup`). */
  static async start(spec: VmSpec, options: WorldOptions): Promise<MigrationWorld> {
    const world = new MigrationWorld(spec, options);
    await forEachPair(world.pairs, false, async (p) => {
      if (p.precopy) await p.src.setState(MigState.PRE_COPY);
    });
    return world;
  }

  get nowMs(): number {
    return this.clock.nowMs;
  }

  /**
   * How a VMM that drives the devices itself (`DeadlineSetState`, the governor) steps them: in
   * parallel on a host with multifd device state, else one after another. QEMU's own way
   * ({@link enterDirect}) and the destination's restart are always one after another (module comment).
   */
  get serial(): boolean {
    return !this.spec.deviceStateMultifd;
  }

  /** The main channel's rate: one stream, capped whatever the NIC (`channelsBytesPerS` of 1). */
  get mainChannelBytesPerS(): number {
    return channelsBytesPerS(this.spec.blackoutBytesPerS, 1);
  }

  /** QEMU `can_switchover`: every PRE_COPY device's destination has ACKed (ST §1.1, §1.5). */
  get canSwitchover(): boolean {
    for (const p of this.pairs) if (!p.acked(this.spec.switchoverAck)) return false;
    return true;
  }

  /**
   * One 100 ms window of pre-copy: device data first (QEMU does not rate-limit VFIO reads, ST §1.3),
   * then RAM with what is left of the window's link budget.
   */
  async poll(): Promise<void> {
    if (this.clock.pendingSleeps > 0) await this.clock.sleep(POLL_MS);
    else this.clock.advance(POLL_MS);
    const noise = this.pollRng.lognormal(0, PRECOPY_NOISE.sigma);
    const budget = (this.spec.precopyBytesPerS * noise * POLL_MS) / 1000;
    let deviceBytes = 0;
    for (const p of this.pairs) deviceBytes += await p.readPrecopy(budget - deviceBytes, this.spec.switchoverAck);
    const passBefore = this.ram.pass;
    const ramWire = this.ram.step(this.clock.nowMs, POLL_MS, budget - deviceBytes);
    this.windowBytesPerS = ((deviceBytes + ramWire) / POLL_MS) * 1000;
    this.pollIndex++;
    if (this.ram.pass !== passBefore) this.observer?.onSync?.(this);
  }

  /** QEMU's "exact" pending path for RAM: a bitmap sync now (ST §1.1 step 2, §1.3). */
  exactSync(): void {
    this.ram.sync(this.clock.nowMs);
    this.observer?.onSync?.(this);
  }

  /** Caps the guest's dirty rate (dirty-limit); returns the cap in force, bytes/s. */
  limitDirtyRate(bytesPerS: number): number {
    return this.ram.limitDirtyRate(bytesPerS);
  }

  /** Costs the next switchover attempt will have. */
  nextAttemptCosts(): AttemptCosts {
    return attemptCosts(this.spec.seed, this.attempts + 1, this.spec.ramBytes);
  }

  /** One switchover attempt through `enter`; the blackout is measured on the clock. */
  async switchover(enter: EnterStopCopy = enterDirect): Promise<SwitchoverOutcome> {
    // Only a committed attempt (vCPUs paused) takes the next cost stream: a "not now" from the
    // enter function changes nothing, so attempt k costs the same under every policy.
    const attempt = this.attempts + 1;
    const costs = attemptCosts(this.spec.seed, attempt, this.spec.ramBytes);
    let stopAtMs = Number.NaN;
    let ramBlackoutBytes = 0;
    const onCommit = async (): Promise<void> => {
      this.attempts = attempt;
      stopAtMs = this.clock.nowMs;
      ramBlackoutBytes = this.ram.blackoutBytes;
      await this.clock.sleep(costs.vcpuStopMs);
    };
    const entered = await enter({ devices: this.pairs, serial: this.serial, onCommit });
    if (!entered.committed) {
      if (Number.isNaN(stopAtMs)) return { kind: 'not-committed', reason: entered.reason };
      const pausedMs = this.clock.nowMs - stopAtMs;
      this.pausedInUnwindsMs += pausedMs;
      if (entered.needsReset) return { kind: 'failed', attempt, pausedMs, reason: entered.reason };
      await this.resumePrecopy();
      return { kind: 'unwound', attempt, pausedMs, reason: entered.reason };
    }
    // Every source device is in STOP_COPY: the final sync takes the rest of RAM; streams are read out.
    const deviceStreamBytes = this.pairs.map((p) => {
      const bytes = p.src.readData(Number.MAX_SAFE_INTEGER);
      p.dst.writeData(bytes);
      p.destWrittenBytes += bytes;
      p.lastStreamBytes = bytes;
      return bytes;
    });
    this.ram.remainingBytes = 0;
    this.ram.dirtySinceSyncBytes = 0;
    const streams = deviceStreamBytes.reduce((s, b) => s + b, 0);
    // Before QEMU 8.2 `vfio_save_complete_precopy()` stopped each device once read out: inside the blackout.
    const stopInside = arcPlacement(this.spec.qemuVersion).stopCopyToStop === 'inside';
    if (stopInside) await forEachPair(this.pairs, this.serial, (p) => p.src.setState(MigState.STOP));
    await this.clock.sleep(costs.syncMs);
    const xferMs = await this.moveAndLoad(ramBlackoutBytes, deviceStreamBytes, costs);
    await this.clock.sleep(costs.nonIterableMs);
    // The destination starts the VM: its devices' VM-state handlers, one after another.
    await forEachPair(this.pairs, true, (p) => p.dst.setState(MigState.RUNNING));
    await this.clock.sleep(costs.destStartMs + costs.stallMs);
    const endAtMs = this.clock.nowMs;
    // Since QEMU 8.2 STOP_COPY → STOP runs after the blackout (`vfio_save_cleanup`, Horon 2023, ST §1.4).
    if (!stopInside) await forEachPair(this.pairs, this.serial, (p) => p.src.setState(MigState.STOP));
    return {
      kind: 'completed',
      attempt,
      stopAtMs,
      endAtMs,
      blackoutMs: endAtMs - stopAtMs,
      ramBlackoutBytes,
      deviceStreamBytes,
      transferMs: xferMs,
      costs,
      ...(entered.predictedBlackoutMs === undefined ? {} : { predictedBlackoutMs: entered.predictedBlackoutMs }),
    };
  }

  /**
   * The stop-copy data: RAM and every device's stream moved, and each destination device's load
   * (`RESUMING>STOP`), as QEMU 10 runs them (module comment). Returns the time the bytes alone
   * took on the wire (over multifd the loads overlap it), ms.
   */
  private async moveAndLoad(ramBytes: number, streamBytes: readonly number[], costs: AttemptCosts): Promise<number> {
    const rate = this.spec.blackoutBytesPerS;
    // A device's load starts once its image is in (mlx5 loads it inside the write() of its last chunk).
    const load = async (p: DevicePair, i: number, bytesPerS: number): Promise<void> => {
      await this.clock.sleep(transferMs(streamBytes[i] ?? 0, bytesPerS, costs));
      await p.dst.setState(MigState.STOP);
    };
    if (this.spec.deviceStateMultifd) {
      const all = ramBytes + streamBytes.reduce((s, b) => s + b, 0);
      const wireMs = transferMs(all, rate, costs);
      await Promise.all([this.clock.sleep(wireMs), ...this.pairs.map((p, i) => load(p, i, rate))]);
      return wireMs;
    }
    const ramMs = transferMs(ramBytes, rate, costs);
    await this.clock.sleep(ramMs);
    let wireMs = ramMs;
    for (const [i, p] of this.pairs.entries()) {
      await load(p, i, this.mainChannelBytesPerS);
      wireMs += transferMs(streamBytes[i] ?? 0, this.mainChannelBytesPerS, costs);
    }
    return wireMs;
  }

  /** Waits for anything still running on the clock (initial-data loads). */
  async settle(): Promise<void> {
    for (const p of this.pairs) await p.settle();
  }

  /** After an unwind: devices brought back to RUNNING restart pre-copy (a new initial image). */
  private async resumePrecopy(): Promise<void> {
    await forEachPair(this.pairs, false, async (p) => {
      if (p.precopy && p.src.getState() === MigState.RUNNING) await p.src.setState(MigState.PRE_COPY);
    });
  }
}

/** Runs `fn` on every pair, all at once or one after another. */
export async function forEachPair(pairs: readonly DevicePair[], serial: boolean, fn: (p: DevicePair) => Promise<unknown>): Promise<void> {
  if (serial) {
    for (const p of pairs) await fn(p);
  } else {
    await Promise.all(pairs.map(fn));
  }
}
