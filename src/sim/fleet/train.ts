/**
 * Recording simulated migrations as a real host would (`recorder.ts`), through the real
 * recording pipeline into the SQLite store, and fitting the governor's model from the store with
 * the estimators' `fitModel` and the shipped priors.
 */
import { collectStore } from '../../store/store-records.js';
import { fitModel } from '../../estimators/fit.js';
import { buildPriors } from '../../estimators/priors.js';
import type { FittedModel } from '../../estimators/types.js';
import { channelLinkName } from '../../estimators/channels.js';
import type { Store } from '../../store/store.js';
import type { RecordingPipeline } from '../../telemetry/pipeline.js';
import { QemuPolicy } from '../policies/qemu.js';
import type { Policy } from '../policies/types.js';
import { TelemetryRecorder } from './recorder.js';
import { runMigration, type MigrationResult } from './run-migration.js';
import type { VmSpec } from './vm-spec.js';

/** Counts of what went into the store. */
export interface RecordingTally {
  /** Records handed to the pipeline. */
  pushed: number;
}

/**
 * Migrates `spec` under `policy` (QEMU's rule gets its own instance, so its exact-path size reads
 * are recorded too) and records it as `at.migrationId`, dated from `at.anchorMs` (Unix ms).
 */
export async function runRecorded(
  spec: VmSpec,
  policy: Policy,
  pipeline: RecordingPipeline,
  at: { readonly migrationId: string; readonly anchorMs: number },
  tally: RecordingTally,
): Promise<MigrationResult> {
  const recorder = new TelemetryRecorder(pipeline, at.migrationId, spec.deadlineMs, channelLinkName(spec.link, spec.multifdChannels), at.anchorMs);
  const run = policy instanceof QemuPolicy ? new QemuPolicy({ name: policy.name, observer: recorder }) : policy;
  const result = await runMigration(spec, run, { recorder });
  tally.pushed += recorder.count;
  return result;
}

/** What the training fleet left behind. */
export interface TrainingSummary {
  readonly migrations: number;
  readonly completed: number;
  /** Records handed to the pipeline. */
  readonly recordsPushed: number;
  /** Migration-id prefix of this training fleet in the store. */
  readonly prefix: string;
}

/**
 * Runs the training fleet under QEMU's rule — what a host records before this library is in
 * charge — into `pipeline` as `${prefix}${vm.id}`, dated from `anchorMs` (Unix ms).
 */
export async function recordTrainingFleet(
  fleet: readonly VmSpec[],
  pipeline: RecordingPipeline,
  { prefix, anchorMs }: { readonly prefix: string; readonly anchorMs: number },
  onProgress?: (done: number, total: number) => void,
): Promise<TrainingSummary> {
  const tally: RecordingTally = { pushed: 0 };
  const qemu = new QemuPolicy();
  let completed = 0;
  for (const [i, spec] of fleet.entries()) {
    if ((await runRecorded(spec, qemu, pipeline, { migrationId: `${prefix}${spec.id}`, anchorMs }, tally)).completed) completed++;
    onProgress?.(i + 1, fleet.length);
  }
  return { migrations: fleet.length, completed, recordsPushed: tally.pushed, prefix };
}

/**
 * Fits a model from the migrations under `prefix` in `store`, shrunk toward the shipped priors,
 * calibrated with scaled scores (`estimators/conformal.ts`: issue 17, the governor's useful share
 * against the oracle's).
 */
export function fitFromStore(store: Store, prefix: string, fittedAt: string): FittedModel {
  return fitModel(collectStore(store, (id) => id.startsWith(prefix)), buildPriors(), {
    name: 'fleet-demo',
    fittedAt,
    provenance: `${store.path} (migrations ${prefix}*)`,
    score: 'scaled',
  });
}
