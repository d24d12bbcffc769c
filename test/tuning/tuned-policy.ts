/**
 * The tuner's recommendation applied inside the fleet simulator's pre-copy (issue 9 validation).
 *
 * At the start of a migration the policy asks `tune()` what an operator would know: guest RAM,
 * a dirty-rate measurement (the VM's true rate × a seeded ±10 % log-normal error, as
 * `calc-dirty-rate` would give), 4 vCPUs sharing it evenly, QEMU's `max-bandwidth`, each device's
 * model and MIG_DATA_SIZE, the deadline and the budget — not the writable working set, not the
 * share of zero pages. Then it plays QEMU with those knobs on the simulated VM:
 * - QEMU's switchover rule (`qemu-rule.ts`) with the recommended `downtime-limit`, and the
 *   recommended `avail-switchover-bandwidth` written into the VM's configuration;
 * - QEMU's throttle trigger (`migration_trigger_throttle()`: at a sync ≥ 1 s after the last
 *   period, dirtied > 50 % of sent, every second such period), read off the simulated RAM's own
 *   period measurement, firing the recommended mechanism: auto-converge sets the CPU throttle
 *   (initial, + increment, ≤ max); dirty-limit caps every vCPU at the quota, each settling at a
 *   seeded point in [quota, quota + 25 MiB/s] (QEMU's dead band);
 * - the management layer's abort at the budget.
 * The truth is the fleet simulator's: 100 ms windows with ±15 % link noise, zero pages, WWS
 * saturation, device pre-copy on the same link, and the measured blackout of real arcs.
 */
import type { CompiledModel } from '../../src/estimators/predict.js';
import type { BlackoutDevice } from '../../src/estimators/types.js';
import { PRECOPY_NOISE } from '../../src/sim/fleet/constants.js';
import { MigrationWorld } from '../../src/sim/fleet/migration-world.js';
import type { VmSpec } from '../../src/sim/fleet/vm-spec.js';
import { qemuCompletionCheck } from '../../src/sim/policies/qemu-rule.js';
import { CONTINUE, type Policy, type PolicyAction, type PolicyRun } from '../../src/sim/policies/types.js';
import { Rng } from '../../src/sim/rng.js';
import { MiB, QEMU_DIRTY_LIMIT, QEMU_THROTTLE_TRIGGER } from '../../src/facts/qemu.js';
import { tune } from '../../src/tuning/tune.js';
import type { TuneResult } from '../../src/tuning/types.js';

/** vCPUs of every simulated VM (the fleet draws none); the rate is spread evenly over them. */
export const SIM_VCPUS = 4;
/** σ of the operator's dirty-rate measurement error (log-normal). */
const DIRTY_MEASUREMENT_SIGMA = 0.1;

/**
 * What the tuner is told about a VM before its migration (devices read from a scratch world of
 * it). With `knowsWorkload` it is also told the writable working set and how long the first pass
 * takes (zero pages cost a tenth of a page's time in the simulator) — what `fitWorkload` would
 * read off a previous migration of the VM.
 */
export async function tuneFor(spec: VmSpec, model: CompiledModel, alpha: number, knowsWorkload = false): Promise<TuneResult> {
  const world = await MigrationWorld.start(spec, { autoConverge: false });
  const devices: BlackoutDevice[] = [];
  for (const p of world.pairs) {
    devices.push({
      id: p.src.id,
      model: p.src.profile.name,
      state: p.src.getState(),
      flags: p.src.flags,
      stopCopyBytes: await p.src.stopCopyBytes(),
    });
  }
  await world.settle();
  const measured = spec.dirtyBytesPerS * Rng.from(`tune-measure/${spec.seed}`).lognormal(0, DIRTY_MEASUREMENT_SIGMA);
  return tune({
    ramBytes: spec.ramBytes,
    dirtyBytesPerS: measured,
    vcpus: SIM_VCPUS,
    bandwidthBytesPerS: spec.precopyBytesPerS,
    devices,
    model,
    deadlineMs: spec.deadlineMs,
    budgetMs: spec.budgetMs,
    alpha,
    serial: !spec.multifd,
    ...(knowsWorkload
      ? { wwsBytes: spec.wwsBytes, firstPassBytes: spec.ramBytes * (spec.nonZeroFraction + (1 - spec.nonZeroFraction) * PRECOPY_NOISE.zeroPageCost) }
      : {}),
  });
}

/** Plays QEMU with one VM's recommendation (see the module comment). */
export class TunedPolicy implements Policy {
  readonly name = 'tuned';
  /** Our trigger emulation owns throttling: the simulated RAM's built-in auto-converge (QEMU defaults) is off. */
  readonly qemuAutoConverge = false;

  constructor(private readonly result: TuneResult) {}

  start(world: MigrationWorld): PolicyRun {
    const rec = this.result.recommended;
    if (rec === null) throw new Error('TunedPolicy needs a recommendation');
    const setting = rec.setting;
    const downtimeLimitMs = rec.switchover.downtimeLimitMs;
    const settle = Rng.from(`dirty-limit-settle/${world.spec.seed}`);
    let seenPass = world.ram.pass;
    let periodStartMs = 0;
    let periodSentStart = 0;
    let highPeriods = 0;
    let dirtyLimited = false;

    const fire = (): void => {
      if (setting.kind === 'auto-converge') {
        const cur = world.ram.throttlePct;
        world.ram.throttlePct = cur === 0 ? setting.initialPct : Math.min(setting.maxPct, cur + setting.incrementPct);
      } else if (setting.kind === 'dirty-limit' && !dirtyLimited) {
        dirtyLimited = true;
        const perVcpu = world.ram.baseDirtyBytesPerS / SIM_VCPUS;
        let vm = 0;
        for (let i = 0; i < SIM_VCPUS; i++) {
          vm += Math.min(perVcpu, setting.vcpuLimitBytesPerS + settle.uniform(0, QEMU_DIRTY_LIMIT.toleranceMiBPerS * MiB));
        }
        world.limitDirtyRate(vm);
      }
    };
    /** After any sync: QEMU's period bookkeeping, mirrored on the simulated RAM's own (it closes periods at the same syncs). */
    const onSyncs = (w: MigrationWorld): void => {
      if (w.ram.pass === seenPass) return;
      seenPass = w.ram.pass;
      const periodMs = w.nowMs - periodStartMs;
      if (periodMs < QEMU_THROTTLE_TRIGGER.periodMs) return;
      const dirtied = (w.ram.measuredDirtyBytesPerS * periodMs) / 1000;
      const sent = w.ram.sentBytes - periodSentStart;
      if (dirtied > sent * (QEMU_THROTTLE_TRIGGER.defaultThresholdPct / 100) && ++highPeriods >= QEMU_THROTTLE_TRIGGER.highPeriods) {
        highPeriods = 0;
        fire();
      }
      periodStartMs = w.nowMs;
      periodSentStart = w.ram.sentBytes;
    };

    return {
      async onPoll(w: MigrationWorld): Promise<PolicyAction> {
        onSyncs(w);
        if (w.nowMs >= w.spec.budgetMs) return { kind: 'abort', reason: 'budget spent (management-layer timeout)' };
        const check = await qemuCompletionCheck(w, downtimeLimitMs);
        onSyncs(w);
        return check.complete ? { kind: 'switch', predictedBlackoutMs: rec.predicted.blackoutBoundMs } : CONTINUE;
      },
    };
  }
}

/** The VM as QEMU is configured for the recommendation (`avail-switchover-bandwidth`; no built-in auto-converge). */
export function tunedSpec(spec: VmSpec, result: TuneResult): VmSpec {
  const rec = result.recommended;
  if (rec === null) return spec;
  return { ...spec, availSwitchoverBytesPerS: rec.switchover.availSwitchoverBandwidthBytesPerS, autoConverge: false };
}
