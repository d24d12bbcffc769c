/**
 * The `import` use case: telemetry files into a store through the recording pipeline, riding
 * out store faults for a while, then (with a link name) tagging the transfers just imported.
 */
import { tagTransferLinks } from '../store/link-tags.js';
import { storedRamAtMs, storedRunConflict } from '../store/run-identity.js';
import { openStore } from '../store/store.js';
import { StoreFaultError } from '../telemetry/errors.js';
import { RecordingPipeline } from '../telemetry/pipeline.js';
import { importFiles, type ImportSummary } from './import-files.js';

/** Why a `--link` option cannot name a link (`telemetry/validate.ts`): the bound a record may carry. */
export { linkOptionProblem } from '../telemetry/validate.js';

/** Options of {@link importIntoStore}. */
export interface ImportIntoStoreOptions {
  readonly files: readonly string[];
  readonly db: string;
  /** How many errors the summary lists. */
  readonly maxErrors: number;
  /** How long to wait for a faulty store (full disk, lock) before giving up, ms. */
  readonly retryForMs: number;
  /** Tag the imported transfers with this link name. */
  readonly link?: string | undefined;
  /** Bytes read so far of the total. */
  readonly onProgress?: (doneBytes: number, totalBytes: number) => void;
  /** A store fault, once per episode; `corrupt`: the file will not mend, the import stops. */
  readonly onStoreFault?: (fault: StoreFaultError) => void;
  /** The store took records again after a fault. */
  readonly onStoreBack?: () => void;
}

/** What {@link importIntoStore} did. */
export interface ImportIntoStoreResult {
  readonly summary: ImportSummary;
  /** Transfers tagged with `link` (when one was given and everything was committed). */
  readonly tagging?: { readonly link: string; readonly linkTagged: number };
  /** Committing or tagging failed at the end (what was committed stays). */
  readonly closeError?: Error;
}

/** Imports `files` into `db` (created when missing). */
export async function importIntoStore(options: ImportIntoStoreOptions): Promise<ImportIntoStoreResult> {
  const store = openStore(options.db);
  const pipeline = new RecordingPipeline(store);
  const abort = new AbortController();
  let giveUp: NodeJS.Timeout | undefined;
  let faultShown = false;
  let corrupt = false;
  const sub = pipeline.errors$.subscribe((e) => {
    if (!(e instanceof StoreFaultError)) return;
    if (e.corrupt) {
      // Waiting will not mend the file: stop now, write nothing more into it.
      if (!corrupt) options.onStoreFault?.(e);
      corrupt = true;
      abort.abort();
      return;
    }
    if (!faultShown) options.onStoreFault?.(e);
    faultShown = true;
    giveUp ??= setTimeout(() => abort.abort(), options.retryForMs);
  });
  const ackSub = pipeline.acks$.subscribe(() => {
    if (giveUp === undefined) return;
    clearTimeout(giveUp);
    giveUp = undefined;
    if (faultShown) options.onStoreBack?.();
    faultShown = false;
  });
  let summary: ImportSummary;
  let closeError: Error | undefined;
  let tagging: ImportIntoStoreResult['tagging'];
  try {
    summary = await importFiles(options.files, pipeline, {
      maxErrors: options.maxErrors,
      signal: abort.signal,
      storedRunConflict: (id, records) => storedRunConflict(store, id, records),
      storedRamAtMs: (id) => storedRamAtMs(store, id),
      ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
    });
  } finally {
    try {
      await pipeline.close({ timeoutMs: abort.signal.aborted ? 0 : options.retryForMs });
    } catch (e) {
      closeError = e as Error;
    }
    clearTimeout(giveUp);
    sub.unsubscribe();
    ackSub.unsubscribe();
    // Tag once everything is committed, so the transfers just imported are there to tag.
    try {
      if (options.link !== undefined && closeError === undefined) tagging = { link: options.link, linkTagged: tagTransferLinks(store, options.files, options.link) };
    } catch (e) {
      closeError = e as Error;
    } finally {
      store.close();
    }
  }
  return { summary, ...(tagging === undefined ? {} : { tagging }), ...(closeError === undefined ? {} : { closeError }) };
}
