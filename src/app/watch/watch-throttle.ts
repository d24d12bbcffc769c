/**
 * The throttle lever of `vfio-sla watch --drive`: applies the governor's `throttle` advice
 * (the highest dirty rate at which pre-copy fits, `ThrottleAdvice`) with what this QEMU has,
 * in this order (switchover-today.md §3):
 *
 * 1. `set-vcpu-dirty-limit` (7.1+): one quota for every vCPU, the one the tuner computes
 *    (`dirtyLimitForVmRate()` in `src/tuning/throttle.ts`): QEMU's control loop leaves a vCPU
 *    alone within `DIRTYLIMIT_TOLERANCE_RANGE` (25 MiB/s) of its quota and a vCPU under its quota
 *    is not slowed, so the quota is water-filled over the per-vCPU rates — QEMU's own
 *    (`query-vcpu-dirty-limit`, once a limit is in service) or an even split of the VM's rate over
 *    `query-cpus-fast` — so that Σ min(rateᵢ, quota + 25 MiB/s) ≤ the advised rate. A quota in
 *    service is only ever lowered: the rates QEMU reports then are the held ones, which
 *    understate what a held vCPU would dirty if let go. QEMU refuses the command unless it runs
 *    on KVM with `-accel kvm,dirty-ring-size=N` (never under TCG), so the first throttle tries it
 *    and, refused, falls back for good.
 * 2. auto-converge (any accelerator). The capability cannot change while a migration runs
 *    (`migrate-set-capabilities` answers "There's a migration process in progress"), but its
 *    parameters can, and QEMU reads them at every throttle trigger (`migration_trigger_throttle()`,
 *    `mig_throttle_guest_down()` in `migration/ram.c`). So when `watch` attaches before the
 *    migration it turns auto-converge on with `throttle-trigger-threshold` 100 %: QEMU then
 *    throttles by itself only when the guest dirties more than it sends in two consecutive
 *    ≥ 1 s periods (ρ > 1, where the governor advises throttling too unless it commits). A
 *    `throttle` decision lowers the trigger to 1 % and sets `cpu-throttle-initial` (first
 *    trigger) and `cpu-throttle-increment` (later ones) so that QEMU's next trigger lands on the
 *    absolute CPU share that brings the guest to the advised rate (dirtying taken as proportional
 *    to CPU time, as QEMU's `cpu-throttle-tailslow` assumes). The dirty rate the advice starts
 *    from was measured under the current `cpu-throttle-percentage`, so the share compounds:
 *    1 − (1 − current)(1 − f) (`cpuThrottleUnder()`, the tuner's model). `wait` and `commit` put
 *    the trigger back to 100 %. QEMU never lowers a throttle during a migration: it stops at the
 *    end (`cpu_throttle_stop()`).
 * 3. Neither (auto-converge off and a migration already running, no dirty ring): the advice is
 *    reported, not applied.
 */
import type { ThrottleAdvice } from '../../governor/types.js';
import { QEMU_AUTO_CONVERGE, QEMU_DIRTY_LIMIT, QEMU_DIRTY_RATE_UNIT_BYTES } from '../../facts/qemu.js';
import { cpuThrottleUnder, dirtyLimitForVmRate, vcpuRates } from '../../tuning/throttle.js';
import type { ThrottleMechanism } from '../../tuning/types.js';
import type { QmpClient } from '../../qemu/qmp-client.js';
import { QmpError } from '../../qemu/qmp-errors.js';

export type { ThrottleMechanism } from '../../tuning/types.js';

/** One change of the lever, for the timeline. */
export interface ThrottleLeverStep {
  readonly mechanism: ThrottleMechanism;
  readonly action: 'throttle' | 'relax';
  /** `dirty-limit`: the per-vCPU cap, MiB/s (QEMU's "MB/s", see `QEMU_DIRTY_RATE_UNIT_BYTES`). */
  readonly perVcpuMiBps?: number;
  readonly vcpus?: number;
  /** `auto-converge`: the CPU share QEMU's next trigger takes away, %. */
  readonly cpuThrottlePercent?: number;
  /** `none`, or why a mechanism was passed over. */
  readonly why?: string;
}

/** `throttle-trigger-threshold` while no throttle is wanted, % (its maximum). */
export const TRIGGER_IDLE_PERCENT = 100;
/** `throttle-trigger-threshold` while throttling, % (its minimum): trigger at the next two periods. */
export const TRIGGER_ACTIVE_PERCENT = 1;
/** A new auto-converge target is sent only when it moves by at least this much, %. */
const RETARGET_STEP_PERCENT = 5;

const AUTO_CONVERGE_PARAMS = ['throttle-trigger-threshold', 'cpu-throttle-initial', 'cpu-throttle-increment'] as const;

/**
 * The absolute `cpu-throttle-percentage` that brings a guest throttled by `currentPercent` (its
 * dirty rate measured under it, `advice.currentDirtyBytesPerS`) to `advice.maxDirtyBytesPerS`,
 * % in QEMU's 1..99; 0 when the guest is already there.
 */
export function autoConvergePercent(advice: ThrottleAdvice, currentPercent: number): number {
  return cpuThrottleUnder(currentPercent, advice.currentDirtyBytesPerS, advice.maxDirtyBytesPerS);
}

function clampPct(pct: number): number {
  return Math.min(QEMU_AUTO_CONVERGE.maxPct, Math.max(QEMU_AUTO_CONVERGE.minPct, pct));
}

/**
 * Why `set-vcpu-dirty-limit` cannot work on this QEMU, found without trying it: the command is
 * absent (< 7.1), or QEMU does not run on KVM (`query-kvm`), which the dirty ring needs. Undefined
 * when it may work (whether the dirty ring is on shows only when it is tried).
 */
async function dirtyLimitUnavailable(qmp: QmpClient): Promise<string | undefined> {
  if (!(await qmp.hasCommand('set-vcpu-dirty-limit'))) return `set-vcpu-dirty-limit absent in QEMU ${qmp.qemuVersion} (7.1+)`;
  const kvm = await qmp.execute('query-kvm');
  const enabled = typeof kvm === 'object' && kvm !== null && (kvm as Record<string, unknown>)['enabled'] === true;
  return enabled ? undefined : 'it needs KVM with dirty-ring-size, and this QEMU does not run on KVM (query-kvm)';
}

/** See the module comment. */
export class ThrottleLever {
  private dirtyLimitRefused: string | undefined;
  private dirtyLimitMiBps: number | undefined;
  private vcpus: number | undefined;
  private targetPercent: number | undefined;
  private triggerLowered = false;
  private reportedNone = false;
  private reportedFallback = false;
  private enabledAutoConverge = false;
  private paramsTouched = false;

  private constructor(
    private readonly qmp: QmpClient,
    private autoConverge: boolean,
    private readonly original: Readonly<Record<string, number>>,
  ) {}

  /**
   * Reads the capabilities and auto-converge parameters; when no migration runs yet, turns
   * auto-converge on with the trigger at {@link TRIGGER_IDLE_PERCENT}.
   */
  static async arm(qmp: QmpClient, migrationRunning: boolean): Promise<ThrottleLever> {
    const caps = await qmp.queryMigrateCapabilities();
    const params = await qmp.queryMigrateParameters();
    const original: Record<string, number> = {};
    for (const k of AUTO_CONVERGE_PARAMS) {
      const v = params[k];
      if (typeof v === 'number') original[k] = v;
    }
    const lever = new ThrottleLever(qmp, caps['auto-converge'] === true, original);
    lever.dirtyLimitRefused = await dirtyLimitUnavailable(qmp);
    if (!migrationRunning && 'auto-converge' in caps) {
      if (!lever.autoConverge) {
        await qmp.migrateSetCapabilities({ 'auto-converge': true });
        lever.autoConverge = true;
        lever.enabledAutoConverge = true;
      }
      await lever.setParams({ 'throttle-trigger-threshold': TRIGGER_IDLE_PERCENT });
    }
    return lever;
  }

  /** Which mechanism a throttle would use now. */
  get mechanism(): ThrottleMechanism {
    if (this.dirtyLimitRefused === undefined) return 'dirty-limit';
    return this.autoConverge ? 'auto-converge' : 'none';
  }

  /** Whether `arm()` turned auto-converge on (to be turned off again by `restore()`). */
  get autoConvergeEnabledByUs(): boolean {
    return this.enabledAutoConverge;
  }

  /**
   * Applies `advice`; `currentPercent` is QEMU's `cpu-throttle-percentage` now (0 if none).
   * Returns the step taken, or undefined when the lever is already where the advice puts it.
   */
  async apply(advice: ThrottleAdvice, currentPercent: number): Promise<ThrottleLeverStep | undefined> {
    if (this.dirtyLimitRefused === undefined) {
      const step = await this.tryDirtyLimit(advice);
      if (step !== null) return step;
    }
    if (this.autoConverge) return this.autoConvergeTo(autoConvergePercent(advice, currentPercent), currentPercent);
    if (this.reportedNone) return undefined;
    this.reportedNone = true;
    return {
      mechanism: 'none',
      action: 'throttle',
      why: `dirty limit: ${this.dirtyLimitRefused ?? ''}; auto-converge is off and cannot be turned on during a migration`,
    };
  }

  /** Stops further throttling (a `wait` or `commit` decision). */
  async relax(): Promise<ThrottleLeverStep | undefined> {
    if (this.dirtyLimitMiBps !== undefined) {
      await this.qmp.cancelVcpuDirtyLimit();
      this.dirtyLimitMiBps = undefined;
      return { mechanism: 'dirty-limit', action: 'relax' };
    }
    if (!this.triggerLowered) return undefined;
    await this.setParams({ 'throttle-trigger-threshold': TRIGGER_IDLE_PERCENT });
    this.triggerLowered = false;
    this.targetPercent = undefined;
    return { mechanism: 'auto-converge', action: 'relax' };
  }

  /**
   * Puts back what `arm()` and the steps changed; the capability only when `migrationRunning` is
   * false (QEMU refuses it otherwise). Best effort: returns the errors instead of throwing.
   */
  async restore(migrationRunning: boolean): Promise<Error[]> {
    const errors: Error[] = [];
    const attempt = async (what: () => Promise<void>): Promise<void> => {
      try {
        await what();
      } catch (e) {
        errors.push(e as Error);
      }
    };
    if (this.dirtyLimitMiBps !== undefined) {
      await attempt(() => this.qmp.cancelVcpuDirtyLimit());
      this.dirtyLimitMiBps = undefined;
    }
    if (this.paramsTouched && Object.keys(this.original).length > 0) {
      await attempt(() => this.qmp.migrateSetParameters(this.original));
      this.paramsTouched = false;
    }
    if (this.enabledAutoConverge && !migrationRunning) {
      await attempt(() => this.qmp.migrateSetCapabilities({ 'auto-converge': false }));
      this.enabledAutoConverge = false;
    }
    return errors;
  }

  /** `null` when QEMU refused the command (the next mechanism is tried). */
  private async tryDirtyLimit(advice: ThrottleAdvice): Promise<ThrottleLeverStep | null | undefined> {
    try {
      const vcpus = await this.vcpuCount();
      const shares = this.dirtyLimitMiBps === undefined ? undefined : await this.heldVcpuRates(vcpus);
      const rates = vcpuRates({ dirtyBytesPerS: advice.currentDirtyBytesPerS, vcpus, vcpuDirtyBytesPerS: shares }) ?? [];
      const fitting = dirtyLimitForVmRate(rates, advice.maxDirtyBytesPerS);
      let perVcpuMiBps = fitting ?? QEMU_DIRTY_LIMIT.minVcpuLimitMiBPerS;
      if (this.dirtyLimitMiBps !== undefined) perVcpuMiBps = Math.min(perVcpuMiBps, this.dirtyLimitMiBps);
      if (perVcpuMiBps === this.dirtyLimitMiBps) return undefined;
      await this.qmp.setVcpuDirtyLimit(perVcpuMiBps);
      this.dirtyLimitMiBps = perVcpuMiBps;
      const step: ThrottleLeverStep = { mechanism: 'dirty-limit', action: 'throttle', perVcpuMiBps, vcpus };
      if (fitting !== null) return step;
      const floorMiBps = QEMU_DIRTY_LIMIT.minVcpuLimitMiBPerS + QEMU_DIRTY_LIMIT.toleranceMiBPerS;
      return { ...step, why: `QEMU's dead band holds each vCPU at up to ${floorMiBps} MiB/s: the advised rate is out of dirty-limit's reach` };
    } catch (e) {
      if (!(e instanceof QmpError) || e.code === 'ECONNRESET' || e.code === 'ETIMEDOUT') throw e;
      this.dirtyLimitRefused = e.message;
      return null;
    }
  }

  /**
   * Per-vCPU rates QEMU measures while a limit is in service (`query-vcpu-dirty-limit`, MiB/s;
   * an empty list when none is: `qmp_query_vcpu_dirty_limit()` in `system/dirtylimit.c`), bytes/s;
   * undefined when it does not answer one rate per vCPU.
   */
  private async heldVcpuRates(vcpus: number): Promise<number[] | undefined> {
    try {
      const list = await this.qmp.queryVcpuDirtyLimit();
      return list.length === vcpus ? list.map((v) => Math.max(0, v['current-rate']) * QEMU_DIRTY_RATE_UNIT_BYTES) : undefined;
    } catch (e) {
      if (!(e instanceof QmpError) || e.code === 'ECONNRESET' || e.code === 'ETIMEDOUT') throw e;
      return undefined;
    }
  }

  /** vCPUs of the guest (`query-cpus-fast`), asked once. */
  private async vcpuCount(): Promise<number> {
    if (this.vcpus === undefined) {
      const list = await this.qmp.execute('query-cpus-fast');
      this.vcpus = Array.isArray(list) ? Math.max(1, list.length) : 1;
    }
    return this.vcpus;
  }

  private async autoConvergeTo(wantPercent: number, currentPercent: number): Promise<ThrottleLeverStep | undefined> {
    if (currentPercent >= wantPercent) return this.relax();
    const moved = this.targetPercent === undefined || Math.abs(wantPercent - this.targetPercent) >= RETARGET_STEP_PERCENT;
    if (this.triggerLowered && !moved) return undefined;
    await this.setParams({
      'throttle-trigger-threshold': TRIGGER_ACTIVE_PERCENT,
      'cpu-throttle-initial': wantPercent,
      'cpu-throttle-increment': clampPct(wantPercent - currentPercent),
    });
    this.triggerLowered = true;
    this.targetPercent = wantPercent;
    const step: ThrottleLeverStep = { mechanism: 'auto-converge', action: 'throttle', cpuThrottlePercent: wantPercent };
    if (this.dirtyLimitRefused === undefined || this.reportedFallback) return step;
    this.reportedFallback = true;
    return { ...step, why: `no dirty limit: ${this.dirtyLimitRefused}` };
  }

  private async setParams(params: Record<string, number>): Promise<void> {
    this.paramsTouched = true;
    await this.qmp.migrateSetParameters(params);
  }
}
