/**
 * A whole service, assembled: the store and its recording pipeline, the {@link Service}, the
 * socket server; and its orderly end — drain the connections, flush and close the pipeline,
 * close the store. `vfio-sla serve` is this plus argument parsing and signals.
 *
 * ```ts
 * const model = await initialModel({ modelPath: 'models/lab.json' });
 * const running = await startService({ socketPath: '/run/vfio-sla.sock', dbPath: 'data/vfio-sla.db', model });
 * process.once('SIGTERM', () => void running.close());
 * ```
 */
import { existsSync } from 'node:fs';
import { DEFAULT_PRIORS_FILE, loadModel } from '../files/model-file.js';
import { recordCount } from '../store/inventory.js';
import { openStore, type Store } from '../store/store.js';
import { RecordingPipeline, type PipelineOptions } from '../telemetry/pipeline.js';
import { defaultFitter, type Fitter } from './fitter.js';
import { loadedModel, type LoadedModel } from './model-state.js';
import { ServiceServer, type ServerOptions } from './server.js';
import { Service } from './service.js';

/**
 * Records per store transaction. A batch commits synchronously on the service's one thread, so
 * its size bounds how long a `decide` can wait behind ingestion: 256 records are about 1 ms of
 * SQLite (bench/ingest.ts: ~250,000 records/s), where the pipeline's default 8192 would be ~30 ms.
 */
export const SERVE_BATCH_SIZE = 256;

export interface StartOptions extends ServerOptions {
  /** The model to serve first (see {@link initialModel}). */
  readonly model: LoadedModel;
  /** Database for `record` and `fit`, created if missing; null/absent: no store. */
  readonly dbPath?: string | null;
  readonly fitter?: Fitter;
  /** Priors a `fit` shrinks toward (default the package's `models/priors.json`); null for none. */
  readonly priorsPath?: string | null;
  /** `slo.alpha` when a `decide` leaves it out. Default 0.01. */
  readonly defaultAlpha?: number;
  /** Pass on an `abort` from an uncalibrated bound instead of answering `defer` (`defer.ts`). Default false. */
  readonly abortWithoutModel?: boolean;
  /** Wall clock, ms since the epoch (record sources, model stamps). Default `Date.now`. */
  readonly now?: () => number;
  readonly pipeline?: Omit<PipelineOptions, 'dbPath'>;
  /** Where to report store faults (one line each). Default: nowhere. */
  readonly log?: (line: string) => void;
  /** How long to wait for a faulted store on shutdown before leaving records in the spill file, ms. Default 10 s. */
  readonly flushTimeoutMs?: number;
}

export interface RunningService {
  readonly service: Service;
  readonly server: ServiceServer;
  readonly store: Store | undefined;
  /**
   * Drains and stops: no new connections, pending replies written, every record committed,
   * the store closed, the socket file removed. Rejects with `E_NOT_COMMITTED` (the records are
   * kept in the spill file) if the store stayed faulted past `flushTimeoutMs`. Idempotent.
   */
  close(): Promise<void>;
}

/** Opens the store, starts the service and listens on `options.socketPath`. */
export async function startService(options: StartOptions): Promise<RunningService> {
  const store = options.dbPath === undefined || options.dbPath === null ? undefined : openStore(options.dbPath);
  const pipeline = store === undefined ? undefined : new RecordingPipeline(store, { batchSize: SERVE_BATCH_SIZE, ...options.pipeline, dbPath: store.path });
  pipeline?.errors$.subscribe((e) => {
    if (e.code !== 'E_BAD_RECORD') options.log?.(`${e.code}: ${e.message}`);
  });
  const service = new Service({
    model: options.model,
    recording: store === undefined || pipeline === undefined ? undefined : { store, pipeline },
    ...(options.fitter === undefined ? {} : { fitter: options.fitter }),
    priorsPath: options.priorsPath === undefined ? DEFAULT_PRIORS_FILE : options.priorsPath,
    ...(options.defaultAlpha === undefined ? {} : { defaultAlpha: options.defaultAlpha }),
    ...(options.abortWithoutModel === undefined ? {} : { abortWithoutModel: options.abortWithoutModel }),
    ...(options.now === undefined ? {} : { now: options.now }),
  });
  let server: ServiceServer;
  try {
    server = await ServiceServer.listen(service, options);
  } catch (e) {
    await pipeline?.close();
    store?.close();
    throw e;
  }
  let closing: Promise<void> | undefined;
  const shutDown = async (): Promise<void> => {
    await server.close();
    try {
      await pipeline?.close({ timeoutMs: options.flushTimeoutMs ?? 10_000 });
    } finally {
      store?.close();
    }
  };
  return {
    service,
    server,
    store,
    close: () => (closing ??= shutDown()),
  };
}

export interface InitialModelOptions {
  /** `--model`: serve this file. */
  readonly modelPath?: string | undefined;
  /** Without `--model`: fit from this database when it holds telemetry. */
  readonly dbPath?: string | null | undefined;
  /** Priors to shrink toward and to serve when there is nothing to fit. Default: the package's. */
  readonly priorsPath?: string;
  readonly fitter?: Fitter;
  /** Wall clock, ms since the epoch. Default `Date.now`. */
  readonly now?: () => number;
  /** Aborts a start-up fit (it then rejects with `E_SHUTTING_DOWN`). */
  readonly signal?: AbortSignal;
}

/**
 * The model to start with: the `--model` file; else a fit of the database when it holds
 * telemetry; else the shipped priors (`health` then says `source: "priors"`).
 */
export async function initialModel(options: InitialModelOptions): Promise<LoadedModel> {
  const now = options.now ?? Date.now;
  const stamp = (): string => new Date(now()).toISOString();
  const priorsPath = options.priorsPath ?? DEFAULT_PRIORS_FILE;
  if (options.modelPath !== undefined) return loadedModel(loadModel(options.modelPath), 'file', options.modelPath, stamp());
  const db = options.dbPath;
  if (db !== undefined && db !== null && existsSync(db) && hasTelemetry(db)) {
    const fitter = options.fitter ?? defaultFitter();
    const fitted = await fitter.fit({ dbPath: db, priorsPath, name: 'serve', exclude: [], fittedAt: stamp() }, options.signal);
    return loadedModel(fitted, 'fit', null, stamp());
  }
  return loadedModel(loadModel(priorsPath), 'priors', priorsPath, stamp());
}

function hasTelemetry(dbPath: string): boolean {
  const store = openStore(dbPath, { readonly: true });
  try {
    return recordCount(store) > 0;
  } finally {
    store.close();
  }
}
