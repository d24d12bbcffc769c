/**
 * `watch --drive`: acting on the governor's decisions with the levers — `commit` releases the
 * `downtime-limit` hold (`drive.ts`), `throttle` goes to the throttle lever (`watch-throttle.ts`),
 * `wait` stops throttling, and an `abort` that persists for {@link ABORT_CONFIRM_POLLS} polls is
 * answered with `migrate_cancel` — what KubeVirt does when the budget is spent and Cloud
 * Hypervisor's default `timeout_strategy` (switchover-today.md §4.3, §4.4) — or, with
 * `onAbort: 'release'`, by handing the switchover back to QEMU's own rule. An abort that rests on
 * a bound not calibrated for this VM (`governor/uncalibrated.ts`) is always handed back, unless
 * the operator asked for `abortWithoutModel`.
 *
 * Whether QEMU took the release before it stopped the guest is read in wire order: the release's
 * `limit` entry is emitted, and `releasedAtWire` set, when QEMU's reply to it is read — before
 * any event that follows it on the socket.
 */
import type { Decision, Slo } from '../../governor/types.js';
import { abortWithoutCalibratedModel } from '../../governor/uncalibrated.js';
import { DowntimeLever, releaseDowntimeLimitMs } from './drive.js';
import type { QmpClient } from '../../qemu/qmp-client.js';
import type { QmpWireLine } from '../../qemu/qmp-protocol.js';
import { dirtyBytesPerS } from '../../qemu/qmp-records.js';
import type { QmpPoll } from '../../qemu/qmp-types.js';
import type { WatchState } from './watch-end.js';
import { ThrottleLever, type ThrottleLeverStep } from './watch-throttle.js';
import type { WatchEntry } from './watch-types.js';

/** Consecutive `abort` decisions before `drive` acts (1 s at 100 ms): one noisy `mbps` window must not cancel a migration. */
export const ABORT_CONFIRM_POLLS = 10;

/** A timeline entry without its time (the watch stamps it). */
export type EntryBody = WatchEntry extends infer E ? (E extends WatchEntry ? Omit<E, 'tMs'> : never) : never;

/** The steering of one watch; see the module comment. */
export class WatchDriver {
  private abortStreak = 0;
  private pendingRelease: (() => void) | undefined;

  private constructor(
    private readonly qmp: QmpClient,
    private readonly slo: Slo,
    private readonly onAbort: 'cancel' | 'release',
    private readonly abortWithoutModel: boolean,
    private readonly st: WatchState,
    private readonly emit: (entry: EntryBody) => void,
    readonly lever: DowntimeLever,
    readonly throttle: ThrottleLever,
    private readonly devicePendingBytes: () => number,
  ) {}

  /**
   * Arms the throttle lever and sets the hold (`lever` has read the operator's parameters).
   * `migrationRunning`: QEMU then refuses capability changes.
   */
  static async take(
    qmp: QmpClient,
    lever: DowntimeLever,
    migrationRunning: boolean,
    o: {
      readonly slo: Slo;
      readonly onAbort: 'cancel' | 'release';
      readonly abortWithoutModel: boolean;
      readonly st: WatchState;
      readonly emit: (entry: EntryBody) => void;
      /** What the VFIO devices add to QEMU's pending bytes (`watch-vfio.ts`); 0 when unknown. */
      readonly devicePendingBytes?: () => number;
    },
  ): Promise<WatchDriver> {
    const throttle = await ThrottleLever.arm(qmp, migrationRunning);
    o.emit({ type: 'limit', action: 'hold', change: await lever.hold() });
    return new WatchDriver(qmp, o.slo, o.onAbort, o.abortWithoutModel, o.st, o.emit, lever, throttle, o.devicePendingBytes ?? (() => 0));
  }

  /** Whether acting on `d` changes something now (said in the decision entry, before acting). */
  plan(d: Decision): boolean {
    this.abortStreak = d.action === 'abort' ? this.abortStreak + 1 : 0;
    switch (d.action) {
      case 'commit':
        return true;
      case 'throttle':
        return d.throttle !== null && this.throttle.mechanism !== 'none';
      case 'abort':
        return this.abortStreak >= ABORT_CONFIRM_POLLS;
      case 'wait':
        return false;
    }
  }

  /** Acts on the decision just planned, made on `poll` (at `atMs`, the records' clock). */
  async act(d: Decision, poll: QmpPoll, atMs: number): Promise<void> {
    switch (d.action) {
      case 'commit':
        this.st.committed = { decision: d, atMs };
        await this.step(this.throttle.relax());
        await this.release(poll);
        return;
      case 'wait':
        await this.step(this.throttle.relax());
        return;
      case 'throttle':
        if (d.throttle !== null) await this.step(this.throttle.apply(d.throttle, poll.cpuThrottlePercent ?? 0));
        return;
      case 'abort':
        if (this.abortStreak < ABORT_CONFIRM_POLLS) return;
        if (abortWithoutCalibratedModel(d) && !this.abortWithoutModel) {
          await this.giveUp(`governor abort ${d.reason} from an uncalibrated bound (no --abort-without-model)`, 'release');
        } else {
          await this.giveUp(`governor abort ${d.reason} on ${ABORT_CONFIRM_POLLS} consecutive polls`, this.onAbort);
        }
        return;
    }
  }

  /** Raises `downtime-limit` for the committed decision — higher again while QEMU has not switched. */
  async release(poll: QmpPoll): Promise<void> {
    const ram = poll.ram;
    if (ram === undefined) return;
    const limitMs = releaseDowntimeLimitMs(ram, dirtyBytesPerS(ram), this.slo.deadlineMs, this.devicePendingBytes());
    if (!this.lever.held && limitMs <= this.lever.downtimeLimitMs) return;
    const previousMs = this.lever.downtimeLimitMs;
    this.pendingRelease = () => {
      this.st.releasedAtWire = true;
      this.emit({ type: 'limit', action: 'release', change: { downtimeLimitMs: limitMs, previousMs } });
    };
    await this.lever.release(limitMs);
  }

  /** Sees every received line first, so QEMU's reply to a release is noted in wire order. */
  onWire(w: QmpWireLine): void {
    if (this.pendingRelease === undefined || w.direction !== 'in' || w.command !== 'migrate-set-parameters') return;
    if (w.kind === 'return') this.pendingRelease();
    if (w.kind === 'return' || w.kind === 'error') this.pendingRelease = undefined;
  }

  private async giveUp(why: string, how: 'cancel' | 'release'): Promise<void> {
    this.st.driving = false;
    await this.step(this.throttle.relax());
    if (how === 'cancel') {
      this.st.cancelledByWatch = true;
      this.st.cancelReason = why;
      await this.qmp.migrateCancel();
      this.emit({ type: 'cancel', reason: why });
      return;
    }
    const change = await this.lever.restore();
    if (change !== undefined) this.emit({ type: 'limit', action: 'restore', change });
    this.emit({ type: 'note', message: `${why}: switchover handed back to QEMU's own rule (downtime-limit ${this.lever.originalLimitMs} ms)` });
  }

  /** Emits a throttle step once its command is done. */
  private async step(pending: Promise<ThrottleLeverStep | undefined>): Promise<void> {
    const step = await pending;
    if (step !== undefined) this.emit({ type: 'throttle', step });
  }
}
