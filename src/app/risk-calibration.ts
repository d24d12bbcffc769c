/**
 * How right the governor's miss probabilities are, group by group: each held-out VM's best-case
 * risk (what the knapsack is offered, `governor/best-case-risk.ts`) against the simulator's law
 * for the same VM (the lowest miss probability any poll of it reached, waiting or throttling:
 * `app/fleet-frontier.ts` `lawAwareFrontier`) — both the least a switchover of the VM can risk.
 *
 * The knapsack spends the fleet's allowance by these risks. A group whose risks read k times the
 * law's is charged k times what it costs: its VMs are taken too rarely when k > 1, and miss more
 * than they were charged when k < 1; a budget moves both groups at once and fixes neither.
 * Groups are by where the device state goes in the blackout — the part of the prediction whose
 * shape differs most (`estimators/predict.ts`): no devices, the main channel, or multifd (QEMU ≥
 * 10, `deviceStateMultifd`). Only VMs whose risk is under {@link RISK_CALIBRATION_MAX} count: the
 * range where the allocation decides, not VMs no level would take.
 */
import { DEFAULT_KNAPSACK_MAX_LEVEL } from '../governor/risk-knapsack.js';
import type { VmSpec } from '../sim/fleet/vm-spec.js';

/** Where a VM's device state goes in the blackout. */
export type DataPhaseGroup = 'none' | 'main' | 'multifd';

export const DATA_PHASE_GROUPS: readonly DataPhaseGroup[] = ['none', 'main', 'multifd'];

/** Risks at or above this are left out ({@link riskCalibration}): the knapsack's default ceiling of its level. */
export const RISK_CALIBRATION_MAX = DEFAULT_KNAPSACK_MAX_LEVEL;

/** The VM's {@link DataPhaseGroup}. */
export function dataPhaseGroup(spec: Pick<VmSpec, 'devices' | 'deviceStateMultifd'>): DataPhaseGroup {
  if (spec.devices.length === 0) return 'none';
  return spec.deviceStateMultifd ? 'multifd' : 'main';
}

/** One VM: its group, the governor's risk and the law's probability, both in [0, 1]. */
export interface RiskLawRow {
  readonly group: DataPhaseGroup;
  readonly risk: number;
  readonly law: number;
}

/** One group's sums over its VMs with risk < {@link RISK_CALIBRATION_MAX}. */
export interface GroupCalibration {
  readonly group: DataPhaseGroup;
  readonly vms: number;
  /** Σ risk: the expected misses the knapsack would be charged for committing them all. */
  readonly riskSum: number;
  /** Σ law: the expected misses they would have. */
  readonly lawSum: number;
}

/** Per group (every group, in {@link DATA_PHASE_GROUPS} order, empty ones with zeros). */
export function riskCalibration(rows: readonly RiskLawRow[], maxRisk = RISK_CALIBRATION_MAX): GroupCalibration[] {
  return DATA_PHASE_GROUPS.map((group) => {
    let vms = 0;
    let riskSum = 0;
    let lawSum = 0;
    for (const r of rows) {
      if (r.group !== group || !(r.risk < maxRisk)) continue;
      if (!(r.law >= 0 && r.law <= 1)) throw new RangeError(`law probability must be in [0, 1], got ${String(r.law)}`);
      vms++;
      riskSum += r.risk;
      lawSum += r.law;
    }
    return { group, vms, riskSum, lawSum };
  });
}

/** Σ risk ÷ Σ law of a group: 1 when its risks are right on the whole; NaN when the law expects no miss. */
export function riskToLawRatio(g: Pick<GroupCalibration, 'riskSum' | 'lawSum'>): number {
  return g.lawSum > 0 ? g.riskSum / g.lawSum : Number.NaN;
}
