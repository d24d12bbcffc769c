/**
 * One refit of the model from the store: the same computation as `vfio-sla fit`, packaged so
 * it can run in a worker thread (`fit-worker.ts`) while the service keeps answering. Opens its
 * own read-only connection: SQLite's WAL lets it read while the service's pipeline writes.
 */
import { loadModel } from '../files/model-file.js';
import { storeRecords } from '../store/store-records.js';
import { fitModel } from '../estimators/fit.js';
import { FitInput } from '../estimators/fit-input.js';
import type { FittedModel } from '../estimators/types.js';
import { openStore } from '../store/store.js';

/** What to fit: plain data, so it can cross to a worker thread. */
export interface FitJob {
  readonly dbPath: string;
  /** Prior model file to shrink toward; null fits from data only. */
  readonly priorsPath: string | null;
  readonly name: string;
  /** Leave out migrations whose id starts with one of these (as `vfio-sla fit --exclude`). */
  readonly exclude: readonly string[];
  /** ISO-8601 time stamped on the model. */
  readonly fittedAt: string;
}

/** Fits a model from the store now (synchronous, seconds for a million arcs). */
export function runFitJob(job: FitJob): FittedModel {
  const priors = job.priorsPath === null ? undefined : loadModel(job.priorsPath);
  const store = openStore(job.dbPath, { readonly: true });
  try {
    const input = new FitInput({ exclude: job.exclude });
    const records = storeRecords(store, (id) => input.keep(id));
    return fitModel(records, priors, { name: job.name, fittedAt: job.fittedAt, provenance: `store ${job.dbPath}: ${input.describe()}; vfio-sla serve` });
  } finally {
    store.close();
  }
}
