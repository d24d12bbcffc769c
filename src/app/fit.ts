/**
 * The `fit` use case: fit a model from a store's telemetry or a `vfio-sla export` Parquet
 * directory and write it as a model file.
 */
import { fitModel } from '../estimators/fit.js';
import { FitInput } from '../estimators/fit-input.js';
import { MigrationCollector } from '../estimators/migrations.js';
import type { FittedModel } from '../estimators/types.js';
import { assertFileTarget } from '../files/output-target.js';
import { DEFAULT_PRIORS_FILE, loadModel, saveModel } from '../files/model-file.js';
import { openStore } from '../store/store.js';
import { columnReader, type ColumnReader } from '../store/column-reader.js';
import { collectStore } from '../store/store-records.js';
import { AppInputError } from './errors.js';

/** Options of {@link fitModelFile}. */
export interface FitModelFileOptions {
  /** Where to write the model (a regular file or nothing yet). */
  readonly out: string;
  /** The store to fit from (when `parquet` is not given). */
  readonly db: string;
  /** A Parquet export directory to fit from instead of `db`. */
  readonly parquet?: string | undefined;
  /** Priors to shrink toward; `null`: none (fit from data only). Default: the package's priors. */
  readonly priors?: string | null | undefined;
  readonly name: string;
  /** Leave out migrations whose id starts with one of these. */
  readonly exclude: readonly string[];
  readonly includeSimulated: boolean;
  /** Folds of the cross-fit calibration. */
  readonly folds: number;
  /** Wall clock, ms since the epoch (the model's `fittedAt`). Default `Date.now()`. */
  readonly nowMs?: number;
}

/** What {@link fitModelFile} fitted and wrote. */
export interface FitModelFileResult {
  readonly model: FittedModel;
  readonly out: string;
  /** Migrations the fit kept and left out. */
  readonly fittedOn: { readonly real: number; readonly simulated: number; readonly simulatedLeftOut: number; readonly excluded: number };
  /** The same in words (`312 migrations (212 real, 100 simulated); left out: ...`). */
  readonly described: string;
  /** How a store was read (a Parquet fit reads none): with the column extension, or one value per row and why. */
  readonly reader?: ColumnReader;
}

/**
 * Fits and writes the model. Refuses an `out` that is not a regular file before fitting, and
 * a source that holds only simulated migrations when they are left out ({@link AppInputError}).
 */
export async function fitModelFile(options: FitModelFileOptions): Promise<FitModelFileResult> {
  assertFileTarget(options.out, '--out'); // before fitting, not after
  const priorsFile = options.priors === undefined ? DEFAULT_PRIORS_FILE : options.priors;
  const priors = priorsFile === null ? undefined : loadModel(priorsFile);
  const input = new FitInput(options);
  const keep = (id: string): boolean => input.keep(id);
  const fitOptions = (source: string) => ({
    name: options.name,
    fittedAt: new Date(options.nowMs ?? Date.now()).toISOString(),
    provenance: `${source}: ${input.describe()}`,
    folds: options.folds,
  });
  let model: FittedModel;
  let reader: ColumnReader | undefined;
  if (options.parquet !== undefined) {
    // DuckDB's native library loads only for a Parquet fit.
    const { parquetRecords } = await import('../report/parquet-records.js');
    const collector = new MigrationCollector();
    for await (const r of parquetRecords(options.parquet)) if (keep(r.migrationId)) collector.add(r);
    model = fitModel(collector, priors, fitOptions(`parquet ${options.parquet}`));
  } else {
    const store = openStore(options.db, { readonly: true });
    try {
      reader = columnReader(store);
      model = fitModel(collectStore(store, keep, reader), priors, fitOptions(`store ${options.db}`));
    } finally {
      store.close();
    }
  }
  if (input.real + input.simulated === 0 && input.simulatedLeftOut > 0) {
    throw new AppInputError(options.parquet === undefined ? '--db' : '--parquet', `nothing to fit: ${options.parquet ?? options.db} holds only simulated migrations (${input.describe()})`);
  }
  saveModel(options.out, model);
  return {
    model,
    out: options.out,
    fittedOn: { real: input.real, simulated: input.simulated, simulatedLeftOut: input.simulatedLeftOut, excluded: input.excluded },
    described: input.describe(),
    ...(reader === undefined ? {} : { reader }),
  };
}
