/**
 * Issue 9 validation on the fleet simulator: train a model on a fleet migrated under QEMU's own
 * rule (recorded as a host would record it), draw a held-out fleet, keep its non-converging VMs
 * (dirty rate ≥ pre-copy bandwidth: pre-copy alone never gets there), tune each, and migrate it
 * with the recommendation applied (`tuned-policy.ts`). Shared by the test and `bench/tuning.ts`.
 */
import { compileModel } from '../../src/estimators/predict.js';
import { fitModel } from '../../src/estimators/fit.js';
import { buildPriors } from '../../src/estimators/priors.js';
import type { FittedModel } from '../../src/estimators/types.js';
import { TelemetryRecorder } from '../../src/sim/fleet/recorder.js';
import { runMigration, type MigrationResult } from '../../src/sim/fleet/run-migration.js';
import { drawFleet, seedOf, type VmSpec } from '../../src/sim/fleet/vm-spec.js';
import { QemuPolicy } from '../../src/sim/policies/qemu.js';
import type { TelemetryRecord } from '../../src/records/records.js';
import type { TuneReason } from '../../src/tuning/types.js';
import { TunedPolicy, tuneFor, tunedSpec } from './tuned-policy.js';

/** One non-converging VM: what the tuner said and what happened. */
export interface FleetCase {
  readonly spec: VmSpec;
  readonly reason: TuneReason;
  readonly mechanism: string | null;
  readonly predictedTotalMs: number | null;
  readonly predictedBoundMs: number | null;
  readonly result: MigrationResult | null;
}

/** The validation's numbers. */
export interface FleetValidation {
  readonly alpha: number;
  /** The tuner was told the working set and first-pass time (see `tuneFor`). */
  readonly knowsWorkload: boolean;
  readonly heldOut: number;
  readonly nonConverging: number;
  readonly reasons: Readonly<Record<string, number>>;
  /** VMs with a recommendation. */
  readonly tuned: number;
  /** …of which completed within the budget. */
  readonly convergedInBudget: number;
  /** Completed (committed) migrations, and those within the deadline. */
  readonly committed: number;
  readonly met: number;
  /** Median of actual ÷ predicted total time over completed migrations. */
  readonly medianTimeRatio: number;
  readonly cases: readonly FleetCase[];
}

/** A model fitted on `count` training migrations of fleet `seed` under QEMU's rule (kept in memory). */
export async function trainModel(seed: number, count: number): Promise<FittedModel> {
  const records: TelemetryRecord[] = [];
  const sink = { push: (r: TelemetryRecord): void => void records.push(r) };
  for (const spec of drawFleet(seedOf(`train/${seed}`), count)) {
    const recorder = new TelemetryRecorder(sink, `train/${spec.id}`, spec.deadlineMs);
    await runMigration(spec, new QemuPolicy({ observer: recorder }), { recorder });
  }
  return fitModel(records, buildPriors(), { name: `fleet-${seed}`, fittedAt: '2026-01-01T00:00:00.000Z', provenance: `simulated fleet ${seed}` });
}

/** Dirty rate ≥ QEMU `max-bandwidth`: ρ ≥ 1, pre-copy alone never converges (Precopy_Nonconvergent's regime). */
export function nonConverging(spec: VmSpec): boolean {
  return spec.dirtyBytesPerS >= spec.precopyBytesPerS;
}

/** Runs the validation on `heldOut` VMs of fleet `seed` with `model`. */
export async function validateOnFleet(model: FittedModel, seed: number, heldOut: number, alpha: number, knowsWorkload = false): Promise<FleetValidation> {
  const compiled = compileModel(model);
  const fleet = drawFleet(seedOf(`heldout/${seed}`), heldOut).filter(nonConverging);
  const cases: FleetCase[] = [];
  const reasons: Record<string, number> = {};
  for (const spec of fleet) {
    const tuned = await tuneFor(spec, compiled, alpha, knowsWorkload);
    reasons[tuned.reason] = (reasons[tuned.reason] ?? 0) + 1;
    const rec = tuned.recommended;
    const result = rec === null ? null : await runMigration(tunedSpec(spec, tuned), new TunedPolicy(tuned));
    cases.push({
      spec,
      reason: tuned.reason,
      mechanism: rec?.mechanism ?? null,
      predictedTotalMs: rec?.predicted.totalTimeMs ?? null,
      predictedBoundMs: rec?.predicted.blackoutBoundMs ?? null,
      result,
    });
  }
  const run = cases.filter((c) => c.result !== null);
  const done = run.filter((c) => c.result?.completed === true);
  const ratios = done.map((c) => (c.result?.totalTimeMs ?? 0) / (c.predictedTotalMs ?? 1)).sort((a, b) => a - b);
  return {
    alpha,
    knowsWorkload,
    heldOut,
    nonConverging: fleet.length,
    reasons,
    tuned: run.length,
    convergedInBudget: done.filter((c) => (c.result?.totalTimeMs ?? Infinity) <= c.spec.budgetMs).length,
    committed: done.length,
    met: done.filter((c) => c.result?.met === true).length,
    medianTimeRatio: ratios.length === 0 ? NaN : (ratios[Math.floor((ratios.length - 1) / 2)] ?? NaN),
    cases,
  };
}
