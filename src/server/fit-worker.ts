/**
 * Worker-thread entry of {@link workerFitter}: runs one {@link FitJob} from `workerData` and
 * posts `{ ok: true, model }` or `{ ok: false, code, message }` (an Error's own fields do not
 * survive the structured clone, so the code is sent explicitly).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runFitJob, type FitJob } from './fit-job.js';

try {
  const model = runFitJob(workerData as FitJob);
  parentPort?.postMessage({ ok: true, model });
} catch (e) {
  const err = e as Error & { code?: unknown };
  parentPort?.postMessage({ ok: false, code: typeof err.code === 'string' ? err.code : 'E_FIT_FAILED', message: err.message ?? String(e) });
}
