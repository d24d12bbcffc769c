/**
 * The `serve` use case: the local service for VMMs (`src/server`) on a unix socket, from
 * start-up (a model from a file, a fit of the store, or the priors) until `stop`, then drained.
 */
import { existsSync } from 'node:fs';
import { resolveGroup } from '../server/group.js';
import { clearStaleSocket } from '../server/socket-file.js';
import { initialModel, startService } from '../server/start.js';

/** The most bytes a unix socket path may take (`sun_path`): the bound of the `socket` option. */
export { MAX_SOCKET_PATH_BYTES } from '../server/socket-file.js';
/** Connections served at once unless told otherwise. */
export { DEFAULT_MAX_CONNECTIONS } from '../server/server.js';

/** Options of {@link serveUntil}. */
export interface ServeOptions {
  readonly socket: string;
  /** The store to record into and fit from; `null`: none. */
  readonly db: string | null;
  /** A model file to serve; without it, fitted from `db` when it holds telemetry, else the priors. */
  readonly model?: string | undefined;
  /** Default: the package's priors. */
  readonly priors?: string | undefined;
  /** The group (name or number) that may connect to the socket. */
  readonly group?: string | undefined;
  readonly alpha: number;
  readonly maxConnections: number;
  readonly abortWithoutModel: boolean;
  /** Resolves (with the signal's name) when the service is to stop. */
  readonly stop: Promise<string>;
  /** The service's log: one line per event, for people. */
  readonly log: (line: string) => void;
}

/** How {@link serveUntil} ended: stopped (in start-up or after serving), or a drain that failed. */
export type ServeEnd = 'stopped-in-start-up' | 'stopped' | 'drain-failed';

/** Serves until `stop` resolves, then drains (see the module comment). */
export async function serveUntil(o: ServeOptions): Promise<ServeEnd> {
  const say = o.log;
  const gid = o.group === undefined ? undefined : resolveGroup(o.group);
  await clearStaleSocket(o.socket); // fail fast, before a possibly long start-up fit
  // A stop during the start-up fit ends the fit (its worker is terminated) and the process.
  const startUp = new AbortController();
  void o.stop.then(() => startUp.abort());
  if (o.model === undefined && o.db !== null && existsSync(o.db)) say(`fitting the model from ${o.db}...`);
  let model;
  try {
    model = await initialModel({ modelPath: o.model, dbPath: o.db, ...(o.priors === undefined ? {} : { priorsPath: o.priors }), signal: startUp.signal });
  } catch (e) {
    if ((e as { code?: unknown }).code !== 'E_SHUTTING_DOWN') throw e;
    say(`${await o.stop} during start-up: stopped before serving`);
    return 'stopped-in-start-up';
  }
  const running = await startService({
    socketPath: o.socket,
    gid,
    maxConnections: o.maxConnections,
    model,
    dbPath: o.db,
    ...(o.priors === undefined ? {} : { priorsPath: o.priors }),
    defaultAlpha: o.alpha,
    abortWithoutModel: o.abortWithoutModel,
    log: say,
  });
  const mode = running.server.socket.mode.toString(8).padStart(4, '0');
  const from = model.source === 'priors' ? 'priors only (no --model, no telemetry to fit)' : model.source === 'file' ? model.path : 'fitted from the database';
  say(`listening on ${o.socket} (mode ${mode}${gid === undefined ? '' : `, gid ${gid}`}); model '${model.fitted.name}': ${String(from)}; db ${o.db ?? 'none'}; pid ${process.pid}`);
  const shares = running.server.peerShares;
  if (!shares.enabled) say(`${shares.reason}; the ${o.maxConnections} connections are shared by all`);
  const signal = await o.stop;
  say(`${signal}: draining`);
  try {
    await running.close();
  } catch (e) {
    const err = e as Error & { code?: string };
    say(`${err.code ?? 'ERROR'}: ${err.message}`);
    return 'drain-failed';
  }
  const stats = running.service.recordStats;
  say(`stopped${stats === undefined ? '' : `; committed ${stats.accepted} records and ${stats.rejected} rejects`}`);
  return 'stopped';
}
