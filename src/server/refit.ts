/**
 * `fit`: refit the model from the store while the service keeps answering. One fit at a time:
 * a `fit` that arrives while one runs gets that fit's result (`joined: true`). The records
 * queued in the pipeline are committed first, so a fit sees everything recorded before it.
 * The new model replaces the old one in one assignment (`onModel`); a failed fit leaves the old
 * one in service.
 */
import { recordCount } from '../store/inventory.js';
import type { Store } from '../store/store.js';
import type { RecordingPipeline } from '../telemetry/pipeline.js';
import { ServiceError } from './errors.js';
import type { FitJob } from './fit-job.js';
import type { Fitter } from './fitter.js';
import { loadedModel, type LoadedModel } from './model-state.js';
import { array, badParam, text, type Obj } from './params.js';

/** What `fit` params may set. */
export interface FitParams {
  readonly name: string;
  readonly exclude: readonly string[];
}

/** The last fit, for `health`. */
export interface FitStatus {
  readonly at: string;
  readonly ok: boolean;
  readonly durationMs: number;
  readonly error?: string;
}

export interface FitResult {
  readonly model: LoadedModel;
  readonly durationMs: number;
  /** True when this request joined a fit already running. */
  readonly joined: boolean;
}

export interface RefitOptions {
  readonly fitter: Fitter;
  readonly store: Store;
  readonly pipeline: RecordingPipeline;
  readonly priorsPath: string | null;
  /** Wall clock, ms since the epoch. */
  readonly now: () => number;
  /** Called with each new model, before any request is answered with it. */
  readonly onModel: (model: LoadedModel) => void;
}

/** `{"name"?: string, "exclude"?: ["Postcopy", ...]}`; throws `E_BAD_PARAMS`. */
export function parseFitParams(params: Obj): FitParams {
  const name = params['name'] === undefined ? 'serve' : text(params, 'name', 'params', 128);
  if (params['exclude'] === undefined) return { name, exclude: [] };
  const list = array(params['exclude'], 'params.exclude', 64);
  const exclude = list.map((v, i) => {
    if (typeof v !== 'string' || v.length === 0 || v.length > 256) throw badParam(`params.exclude[${i}]`, 'a migration id prefix (non-empty string)', v);
    return v;
  });
  return { name, exclude };
}

export class Refitter {
  private current: Promise<FitResult> | undefined;
  private readonly abort = new AbortController();
  private lastStatus: FitStatus | null = null;

  constructor(private readonly options: RefitOptions) {}

  get running(): boolean {
    return this.current !== undefined;
  }

  get last(): FitStatus | null {
    return this.lastStatus;
  }

  /** Fits now, or joins the fit that is running. */
  fit(params: FitParams): Promise<FitResult> {
    if (this.current !== undefined) return this.current.then((r) => ({ ...r, joined: true }));
    const run = this.run(params).finally(() => {
      this.current = undefined;
    });
    this.current = run;
    return run;
  }

  /** Stops a running fit (its requests get `E_SHUTTING_DOWN`); later fits are refused. */
  stop(): void {
    this.abort.abort();
  }

  private async run(params: FitParams): Promise<FitResult> {
    const o = this.options;
    const startedMs = o.now();
    try {
      if (this.abort.signal.aborted) throw new ServiceError('E_SHUTTING_DOWN', 'the server is shutting down');
      if (recordCount(o.store) === 0) throw new ServiceError('E_FIT_FAILED', `no telemetry in ${o.store.path}: record or import some first`);
      await o.pipeline.flush();
      const job: FitJob = { dbPath: o.store.path, priorsPath: o.priorsPath, name: params.name, exclude: params.exclude, fittedAt: new Date(startedMs).toISOString() };
      const fitted = await o.fitter.fit(job, this.abort.signal);
      const model = loadedModel(fitted, 'fit', null, new Date(o.now()).toISOString());
      if (this.abort.signal.aborted) throw new ServiceError('E_SHUTTING_DOWN', 'the server is shutting down');
      o.onModel(model);
      const durationMs = o.now() - startedMs;
      this.lastStatus = { at: model.loadedAt, ok: true, durationMs };
      return { model, durationMs, joined: false };
    } catch (e) {
      const err = e instanceof ServiceError ? e : new ServiceError('E_FIT_FAILED', (e as Error).message, undefined, { cause: e });
      this.lastStatus = { at: new Date(o.now()).toISOString(), ok: false, durationMs: o.now() - startedMs, error: `${err.code}: ${err.message}` };
      throw err;
    }
  }
}
