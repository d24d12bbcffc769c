/**
 * The `watch` use case: follow (with `drive`, steer) a live QEMU migration over QMP with the
 * served model, record it into a store and hand each timeline entry to the caller.
 */
import { createWriteStream, openSync, type WriteStream } from 'node:fs';
import { basename } from 'node:path';
import { QEMU_DEFAULT_DOWNTIME_LIMIT_MS } from '../../facts/qemu.js';
import { assertFileTarget } from '../../files/output-target.js';
import { QmpClient } from '../../qemu/qmp-client.js';
import { migrationIdFromPath } from '../../qemu/qmp-log.js';
import type { QmpEndpoint } from '../../qemu/qmp-options.js';
import type { LoadedModel } from '../../server/model-state.js';
import { initialModel } from '../../server/start.js';
import { migrationExists } from '../../store/run-identity.js';
import { openStore } from '../../store/store.js';
import { StoreFaultError } from '../../telemetry/errors.js';
import { RecordingPipeline } from '../../telemetry/pipeline.js';
import { AppInputError } from '../errors.js';
import { MigrationWatch } from './watch.js';
import type { WatchEnd, WatchEntry } from './watch-types.js';
import type { VfioTraceOptions } from './watch-vfio.js';

/** The deadline a watch holds the blackout to unless told: QEMU's own default `downtime-limit`. */
export const DEFAULT_WATCH_DEADLINE_MS = QEMU_DEFAULT_DOWNTIME_LIMIT_MS;

/** Options of {@link watchQemuMigration}. */
export interface WatchQemuOptions {
  readonly endpoint: QmpEndpoint;
  readonly destEndpoint?: QmpEndpoint | undefined;
  readonly deadlineMs: number;
  readonly alpha: number;
  /** Migration budget, ms (`Infinity`: none). */
  readonly budgetMs: number;
  readonly guestTimeoutMs?: number | undefined;
  readonly drive: boolean;
  readonly onAbort: 'cancel' | 'release';
  readonly abortWithoutModel: boolean;
  readonly db: string;
  /** A model file to use; without it, fitted from `db` when it holds telemetry, else `priors`. */
  readonly model?: string | undefined;
  /** Default: the package's priors. */
  readonly priors?: string | undefined;
  /** The migration id; default from the `qmpLog` path, else `watch/<socket>-<UTC time>`. */
  readonly id?: string | undefined;
  /** Write every QMP line here (a regular file or nothing yet). */
  readonly qmpLog?: string | undefined;
  readonly vfioTrace?: VfioTraceOptions | undefined;
  readonly destVfioTrace?: VfioTraceOptions | undefined;
  /** Stops the watch (e.g. SIGINT): it ends `interrupted`. */
  readonly signal?: AbortSignal;
  /** Wall clock, ms since the epoch (the default id). Default `Date.now()`. */
  readonly nowMs?: number;
  /** The model is loaded, the store and the log are open: the watch starts. */
  readonly onStart?: (model: LoadedModel) => void;
  readonly onEntry?: (entry: WatchEntry) => void;
  /** Something went wrong that does not end the watch (a store fault, the log failing), in words. */
  readonly onWarning?: (message: string) => void;
}

/** How {@link watchQemuMigration} ended. */
export interface WatchQemuResult {
  readonly end: WatchEnd;
  /** One sentence: what happened, to which migration. */
  readonly message: string;
  readonly migrationId: string;
  readonly accepted: number;
  /** Records the store refused. */
  readonly rejected: number;
  /** Committing the last records failed (what was committed stays). */
  readonly closeError?: Error;
  /** The watch threw (after the store and the log were closed): the caller rethrows it. */
  readonly failure?: { readonly error: unknown };
}

function compactUtc(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

/** The `qmpLog` file, opened now so that a path it cannot write is refused, not a lost log. */
function openLog(path: string, warn: (message: string) => void): WriteStream {
  assertFileTarget(path, '--qmp-log'); // a FIFO would block the open, a device would take the log
  let fd: number;
  try {
    fd = openSync(path, 'w');
  } catch (e) {
    throw new AppInputError('--qmp-log', `--qmp-log: cannot write '${path}': ${(e as Error).message}`);
  }
  const log = createWriteStream('', { fd });
  log.once('error', (e) => warn(`--qmp-log ${path}: ${e.message} (the store still gets every record)`));
  return log;
}

/** Watches one migration to its end (see the module comment). */
export async function watchQemuMigration(o: WatchQemuOptions): Promise<WatchQemuResult> {
  const warn = (message: string): void => o.onWarning?.(message);
  const idFromLog = o.id === undefined && o.qmpLog !== undefined;
  const name = 'path' in o.endpoint ? basename(o.endpoint.path).replace(/\.[^.]*$/, '') : `${o.endpoint.host}-${o.endpoint.port}`;
  const id = o.id ?? (o.qmpLog === undefined ? `watch/${name}-${compactUtc(o.nowMs ?? Date.now())}` : migrationIdFromPath(o.qmpLog));
  const model = await initialModel({ modelPath: o.model, dbPath: o.db, ...(o.priors === undefined ? {} : { priorsPath: o.priors }) });
  // The store first: opening the log truncates it, which must not happen when the store cannot open.
  const store = openStore(o.db);
  let log: WriteStream | undefined;
  try {
    // Two watched runs logged to one path would get one id and merge into one migration.
    if (idFromLog && migrationExists(store, id)) {
      throw new AppInputError('--qmp-log', `--qmp-log: migration id '${id}' (from the log's path) is already in the store from an earlier run; give --id or another --qmp-log name`);
    }
    log = o.qmpLog === undefined ? undefined : openLog(o.qmpLog, warn);
  } catch (e) {
    store.close();
    throw e;
  }
  const pipeline = new RecordingPipeline(store);
  o.onStart?.(model);
  const faults = pipeline.errors$.subscribe((e) => {
    if (e instanceof StoreFaultError) warn(e.message);
  });
  const qmp = new QmpClient({ endpoint: o.endpoint, commandTimeoutMs: 30_000, connectTimeoutMs: 10_000 });
  const dest = o.destEndpoint === undefined ? undefined : new QmpClient({ endpoint: o.destEndpoint, commandTimeoutMs: 30_000, connectTimeoutMs: 10_000 });
  let end: WatchEnd = 'error';
  let message = '';
  let closeError: Error | undefined;
  let failure: { readonly error: unknown } | undefined;
  try {
    const watch = new MigrationWatch({
      qmp,
      sink: pipeline,
      migrationId: id,
      source: o.qmpLog ?? qmp.endpoint,
      ...(log === undefined ? {} : { writeLogLine: (line: string) => log?.write(`${line}\n`) }),
      model: model.compiled,
      slo: { deadlineMs: o.deadlineMs, alpha: o.alpha, budgetMs: o.budgetMs, ...(o.guestTimeoutMs === undefined ? {} : { guestTimeoutMs: o.guestTimeoutMs }) },
      drive: o.drive,
      onAbort: o.onAbort,
      abortWithoutModel: o.abortWithoutModel,
      ...(o.signal === undefined ? {} : { signal: o.signal }),
      ...(dest === undefined ? {} : { destination: dest }),
      ...(o.vfioTrace === undefined ? {} : { vfioTrace: o.vfioTrace }),
      ...(o.destVfioTrace === undefined ? {} : { destinationVfioTrace: o.destVfioTrace }),
    });
    const printed = watch.timeline$.subscribe((entry) => o.onEntry?.(entry));
    const result = await watch.run();
    printed.unsubscribe();
    end = result.end;
    message = result.message;
  } catch (error) {
    failure = { error };
  } finally {
    await qmp.close();
    await dest?.close();
    if (log !== undefined) await new Promise<void>((r) => log?.end(r));
    try {
      await pipeline.close({ timeoutMs: 60_000 });
    } catch (e) {
      closeError = e as Error;
    }
    faults.unsubscribe();
    store.close();
  }
  const { accepted, rejected } = pipeline.stats;
  return { end, message, migrationId: id, accepted, rejected, ...(closeError === undefined ? {} : { closeError }), ...(failure === undefined ? {} : { failure }) };
}
