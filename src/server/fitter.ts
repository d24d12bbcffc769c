/**
 * Where a refit runs. Fitting a million arcs takes seconds of CPU; on the service's thread that
 * would stall every client's `decide`. {@link workerFitter} runs it in a worker thread and hands
 * back the model, validated like a model file (`parseFittedModel`), for the service to compile
 * and swap in. {@link inlineFitter} runs it on the caller's thread: for tests run from the
 * TypeScript sources (a worker needs the built `fit-worker.js`) and tiny stores.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { parseFittedModel } from '../estimators/model-json.js';
import type { FittedModel } from '../estimators/types.js';
import { ServiceError } from './errors.js';
import { runFitJob, type FitJob } from './fit-job.js';

export interface Fitter {
  /** `worker`: off the service's thread; `inline`: on it (blocks while it runs). */
  readonly kind: 'worker' | 'inline';
  /**
   * Fits `job`. Rejects with `E_FIT_FAILED` (the cause's code in the message), or with
   * `E_SHUTTING_DOWN` when `signal` aborts first (the worker is terminated).
   */
  fit(job: FitJob, signal?: AbortSignal): Promise<FittedModel>;
}

/** The built worker script next to this module (`dist/server/fit-worker.js`). */
export const FIT_WORKER_URL = new URL('./fit-worker.js', import.meta.url);

function failed(code: string, message: string, cause?: unknown): ServiceError {
  return new ServiceError('E_FIT_FAILED', `${code}: ${message}`, undefined, { cause });
}

function aborted(): ServiceError {
  return new ServiceError('E_SHUTTING_DOWN', 'the server is shutting down; the fit was stopped');
}

/** Runs each fit in a new worker thread on `url`. */
export function workerFitter(url: URL = FIT_WORKER_URL): Fitter {
  return {
    kind: 'worker',
    fit(job, signal) {
      return new Promise<FittedModel>((resolve, reject) => {
        if (signal?.aborted === true) return reject(aborted());
        const worker = new Worker(url, { workerData: job, execArgv: workerExecArgv(process.execArgv) });
        let settled = false;
        const settle = (f: () => void): void => {
          if (settled) return;
          settled = true;
          signal?.removeEventListener('abort', onAbort);
          f();
        };
        const onAbort = (): void => {
          settle(() => reject(aborted()));
          void worker.terminate();
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        worker.once('message', (msg: unknown) =>
          settle(() => {
            try {
              resolve(modelFromMessage(msg));
            } catch (e) {
              reject(e instanceof ServiceError ? e : failed(codeOf(e, 'E_BAD_MODEL'), (e as Error).message, e));
            }
          }),
        );
        worker.once('error', (e) => settle(() => reject(failed('E_WORKER', e.message, e))));
        worker.once('exit', (code) => settle(() => reject(failed('E_WORKER', `fit worker exited with code ${code} before answering`))));
      });
    },
  };
}

/**
 * The parent's Node options a worker may inherit: all but those about the parent's own entry
 * (`--input-type`, `-e`/`--eval`, `-p`/`--print` and their values). A worker inherits
 * `process.execArgv` by default, and a module worker started under `node --input-type=module -e …`
 * (a VMM's glue script embedding the service) fails with `ERR_INPUT_TYPE_NOT_ALLOWED`.
 * Loaders and other options (`--import`, `--enable-source-maps`, …) are kept.
 */
export function workerExecArgv(execArgv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const a = execArgv[i] as string;
    if (a.startsWith('--input-type=') || a.startsWith('--eval=') || a.startsWith('--print=')) continue;
    if (a === '--input-type' || a === '-e' || a === '--eval' || a === '-p' || a === '--print' || a === '-pe') {
      i++; // its value (the type, or the script)
      continue;
    }
    out.push(a);
  }
  return out;
}

function codeOf(e: unknown, otherwise: string): string {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : otherwise;
}

function modelFromMessage(msg: unknown): FittedModel {
  if (typeof msg !== 'object' || msg === null) throw failed('E_WORKER', 'fit worker sent no result');
  const m = msg as Readonly<Record<string, unknown>>;
  if (m['ok'] === true) return parseFittedModel(m['model'], 'fitted model');
  throw failed(String(m['code']), String(m['message']));
}

/** Runs each fit on the calling thread, after the current event-loop turn. */
export function inlineFitter(): Fitter {
  return {
    kind: 'inline',
    fit(job, signal) {
      return new Promise<FittedModel>((resolve, reject) => {
        setImmediate(() => {
          if (signal?.aborted === true) return reject(aborted());
          try {
            resolve(runFitJob(job));
          } catch (e) {
            reject(failed(codeOf(e, 'E_FIT'), (e as Error).message, e));
          }
        });
      });
    },
  };
}

/** The worker fitter when the built worker script exists, else the inline one. */
export function defaultFitter(): Fitter {
  return existsSync(fileURLToPath(FIT_WORKER_URL)) ? workerFitter() : inlineFitter();
}
