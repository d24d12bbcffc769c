/**
 * The main job (`npm start`, `vfio-sla demo`): a training fleet recorded into the store and
 * fitted, then a held-out fleet replayed under every policy — the same VMs, seeds and noise
 * for each — recorded too, the per-policy metrics, and (optionally) the HTML report of the
 * store. Shared by the CLI and `bench/fleet.ts`.
 */
import { performance } from 'node:perf_hooks';
import type { FittedModel } from '../estimators/types.js';
import { SIMULATED_MIGRATION_PREFIX } from '../estimators/fit-input.js';
import type { AdaptiveAlphaStatus } from '../governor/adaptive-alpha.js';
import type { RiskKnapsackStatus } from '../governor/risk-knapsack.js';
import type { ReportSummary } from '../report/build-report.js';
import { openStore } from '../store/store.js';
import { RecordingPipeline } from '../telemetry/pipeline.js';
import { GovernorPolicy, type GovernorPolicyOptions } from '../sim/policies/governor.js';
import { KubevirtPolicy } from '../sim/policies/kubevirt.js';
import { OraclePolicy } from '../sim/policies/oracle.js';
import { QemuPolicy } from '../sim/policies/qemu.js';
import type { Policy } from '../sim/policies/types.js';
import type { MigrationWorld } from '../sim/fleet/migration-world.js';
import { pairedTimeRatio, summarize, type PolicySummary } from '../sim/fleet/metrics.js';
import type { MigrationResult } from '../sim/fleet/run-migration.js';
import { fitFromStore, recordTrainingFleet, runRecorded, type RecordingTally, type TrainingSummary } from '../sim/fleet/train.js';
import { DEFAULT_FLEET_MIX, drawFleet, seedOf, type FleetMix, type VmSpec } from '../sim/fleet/vm-spec.js';

/** The policies the job compares, in table order. */
export const POLICY_NAMES = ['governor', 'qemu', 'kubevirt', 'oracle', 'oracle-throttle'] as const;
export type PolicyName = (typeof POLICY_NAMES)[number];

/** Options of {@link runFleetJob}. */
export interface FleetJobOptions {
  /** Held-out migrations (each replayed under every policy). */
  readonly migrations: number;
  /** Training migrations; default = `migrations`. */
  readonly trainingMigrations?: number;
  readonly seed: number;
  readonly dbPath: string;
  /** The governor's miss probability. */
  readonly alpha: number;
  /** Wall-clock time stamped on the fitted model. */
  readonly fittedAt: string;
  /**
   * Unix time (ms) the simulated migrations are dated at: every migration's virtual time 0
   * (default: now). Records carry Unix-epoch times, as a real host's do, so `--since 7d` finds them.
   */
  readonly startedAtMs?: number;
  /** The governor's online adaptive α (default: {@link GovernorPolicyOptions.adaptive}'s). */
  readonly governorAdaptive?: GovernorPolicyOptions['adaptive'];
  /** How the governor spends the miss allowance (default: {@link GovernorPolicyOptions.allocation}'s). */
  readonly governorAllocation?: GovernorPolicyOptions['allocation'];
  /** Sees each held-out VM's best-case miss probability under the governor's knapsack ({@link GovernorPolicyOptions.onRisk}). */
  readonly onGovernorRisk?: (spec: VmSpec, risk: number) => void;
  /** The fleet's distributions (default {@link DEFAULT_FLEET_MIX}). */
  readonly mix?: FleetMix;
  /** Write the HTML report of the store here at the end (default: no report). */
  readonly reportPath?: string;
  /** Progress: `done` of `total` migrations of the phase. */
  readonly onProgress?: (phase: 'train' | 'replay', done: number, total: number) => void;
}

/** Everything the job found. */
export interface FleetJobResult {
  readonly seed: number;
  readonly alpha: number;
  readonly dbPath: string;
  /** Migrations of an earlier run with this seed that the run replaced. */
  readonly replacedMigrations: number;
  /** Unix time (ms) the simulated migrations are dated at. */
  readonly startedAtMs: number;
  readonly training: TrainingSummary;
  /** Migration-id prefix of the held-out replays (`<prefix><policy>/<vm>`). */
  readonly heldOutPrefix: string;
  /** Records the store refused (0 unless the simulator writes a bad record: a bug). */
  readonly recordsRejected: number;
  readonly firstRejection: string | null;
  readonly model: FittedModel;
  readonly heldOut: number;
  readonly policies: readonly PolicySummary[];
  /** Governor's mean total time ÷ the oracle's, each over its own completed migrations. */
  readonly timeRatioGovernorVsOracle: number;
  /** The same over migrations both completed. */
  readonly pairedTimeRatioGovernorVsOracle: number;
  readonly pairedMigrations: number;
  /** The governor's adaptive α after the last held-out migration (`null`: fixed α). */
  readonly governorAlpha: AdaptiveAlphaStatus | null;
  /** The governor's knapsack after the replay; null unless it allocated by one. */
  readonly governorKnapsack: RiskKnapsackStatus | null;
  /** How often the governor ended on each reason (`commit:FITS`, `abort:DEADLINE_UNREACHABLE`, …). */
  readonly governorReasons: Readonly<Record<string, number>>;
  readonly results: Readonly<Record<PolicyName, readonly MigrationResult[]>>;
  /** The HTML report written, if one was asked for. */
  readonly report: { readonly path: string; readonly summary: ReportSummary } | null;
  readonly runtimeMs: {
    readonly train: number;
    readonly fit: number;
    readonly replay: number;
    readonly replayByPolicy: Readonly<Record<PolicyName, number>>;
    readonly report: number;
    readonly total: number;
  };
}

/** The held-out VMs of fleet seed `seed`: the same for every policy and for anything else judged on that seed. */
export function heldOutFleet(seed: number, migrations: number, mix: FleetMix = DEFAULT_FLEET_MIX): VmSpec[] {
  return drawFleet(seedOf(`heldout/${seed}`), migrations, mix);
}

/** Runs the whole job. */
export async function runFleetJob(options: FleetJobOptions): Promise<FleetJobResult> {
  const t0 = performance.now();
  const trainCount = options.trainingMigrations ?? options.migrations;
  const runPrefix = `${SIMULATED_MIGRATION_PREFIX}s${options.seed}/`;
  const prefix = `${runPrefix}train/`;
  const heldOutPrefix = `${runPrefix}heldout/`;
  const mix = options.mix ?? DEFAULT_FLEET_MIX;
  const anchorMs = options.startedAtMs ?? Date.now();
  const store = openStore(options.dbPath);
  try {
    // A re-run with this seed replaces the earlier one: dated now, its records would be a second copy.
    const replaced = store.deleteMigrations(runPrefix);
    const pipeline = new RecordingPipeline(store, { dbPath: options.dbPath });
    let recordsRejected = 0;
    let firstRejection: string | null = null;
    const errors = pipeline.errors$.subscribe((e) => {
      if (e.code !== 'E_BAD_RECORD') return;
      recordsRejected++;
      firstRejection ??= e.message;
    });
    const training = await recordTrainingFleet(drawFleet(seedOf(`train/${options.seed}`), trainCount, mix), pipeline, { prefix, anchorMs }, (done, total) =>
      options.onProgress?.('train', done, total),
    );
    await pipeline.flush();
    const t1 = performance.now();
    const model = fitFromStore(store, prefix, options.fittedAt);
    const t2 = performance.now();

    const governor = new GovernorPolicy({
      model,
      alpha: options.alpha,
      ...(options.governorAdaptive === undefined ? {} : { adaptive: options.governorAdaptive }),
      ...(options.governorAllocation === undefined ? {} : { allocation: options.governorAllocation }),
      ...(options.onGovernorRisk === undefined ? {} : { onRisk: (w: MigrationWorld, risk: number) => options.onGovernorRisk?.(w.spec, risk) }),
    });
    const policies: Record<PolicyName, Policy> = {
      governor,
      qemu: new QemuPolicy(),
      kubevirt: new KubevirtPolicy(),
      oracle: new OraclePolicy(),
      'oracle-throttle': new OraclePolicy({ throttle: true }),
    };
    const heldOut = heldOutFleet(options.seed, options.migrations, mix);
    const results: Record<PolicyName, MigrationResult[]> = { governor: [], qemu: [], kubevirt: [], oracle: [], 'oracle-throttle': [] };
    const replayMs: Record<PolicyName, number> = { governor: 0, qemu: 0, kubevirt: 0, oracle: 0, 'oracle-throttle': 0 };
    const tally: RecordingTally = { pushed: 0 };
    for (const [i, spec] of heldOut.entries()) {
      for (const name of POLICY_NAMES) {
        const start = performance.now();
        results[name].push(await runRecorded(spec, policies[name], pipeline, { migrationId: `${heldOutPrefix}${name}/${spec.id}`, anchorMs }, tally));
        replayMs[name] += performance.now() - start;
      }
      options.onProgress?.('replay', i + 1, heldOut.length);
    }
    await pipeline.close();
    errors.unsubscribe();
    const t3 = performance.now();

    let report: FleetJobResult['report'] = null;
    if (options.reportPath !== undefined) {
      // Vega loads only when a report is built.
      const { writeReport } = await import('../report/build-report.js');
      const title = `vfio-sla demo: fleet seed ${options.seed}, ${trainCount} training + ${heldOut.length} held-out migrations`;
      // The held-out replays only: the training fleet ran under QEMU's rule and would blur its row.
      report = { path: options.reportPath, summary: await writeReport(store, options.reportPath, { title, filter: { migrationPrefix: heldOutPrefix } }) };
    }
    const t4 = performance.now();

    const summaries = POLICY_NAMES.map((name) => summarize(name, results[name]));
    const gov = summaries[POLICY_NAMES.indexOf('governor')]!;
    const oracle = summaries[POLICY_NAMES.indexOf('oracle')]!;
    const paired = pairedTimeRatio(results.governor, results.oracle);
    return {
      seed: options.seed,
      alpha: options.alpha,
      dbPath: options.dbPath,
      replacedMigrations: replaced,
      startedAtMs: anchorMs,
      training,
      heldOutPrefix,
      recordsRejected,
      firstRejection,
      model,
      heldOut: heldOut.length,
      policies: summaries,
      timeRatioGovernorVsOracle: gov.meanTotalTimeMs / oracle.meanTotalTimeMs,
      pairedTimeRatioGovernorVsOracle: paired.ratio,
      pairedMigrations: paired.pairs,
      governorAlpha: governor.adaptive?.status() ?? null,
      governorKnapsack: governor.knapsack?.status() ?? null,
      governorReasons: Object.fromEntries([...governor.stats.reasons].sort((a, b) => b[1] - a[1])),
      results,
      report,
      runtimeMs: { train: t1 - t0, fit: t2 - t1, replay: t3 - t2, replayByPolicy: replayMs, report: t4 - t3, total: t4 - t0 },
    };
  } finally {
    store.close();
  }
}
