/**
 * The service behind the socket: one request line in, one reply line out. Knows nothing of
 * sockets (`server.ts` does), so it is tested and benchmarked directly too.
 *
 * `decide`, `model`, `health` and `record` (without `flush`) answer synchronously, in the same
 * event-loop turn as their line arrived; `fit` and `record` with `flush` answer with a Promise.
 */
import { performance } from 'node:perf_hooks';
import { decide } from '../governor/decide.js';
import { decideAtLowestLevel } from '../governor/risk-levels.js';
import { GovernorError } from '../governor/errors.js';
import type { Store } from '../store/store.js';
import type { PeerShareInfo } from './peer-cred.js';
import { VERSION } from '../package/version.js';
import { PipelineError } from '../telemetry/errors.js';
import type { PipelineStats, RecordingPipeline } from '../telemetry/pipeline.js';
import { parseDecideParams } from './decide-params.js';
import { served } from './defer.js';
import { ServiceError } from './errors.js';
import { defaultFitter, type Fitter } from './fitter.js';
import { modelSummary, type LoadedModel } from './model-state.js';
import type { Obj } from './params.js';
import { errorLine, isBadRequest, parseRequest, PROTOCOL_VERSION, resultLine, type RequestId } from './protocol.js';
import { pushRecords, recordList, type RecordReply } from './record-params.js';
import { parseFitParams, Refitter } from './refit.js';

/**
 * Which line of which connection a request came on. The `record` source is
 * `serve@<start ms>#<connection>:<line>`: the start time keeps a restarted server's rejects
 * apart from an earlier run's (the rejects table keeps one row per source, line and reason).
 */
export interface RequestContext {
  readonly connectionId: number;
  readonly line: number;
}

/** What the socket side tells `health`. */
export interface ServerInfo {
  readonly socketPath: string;
  readonly connections: number;
  /** Connections whose client is not reading its replies (so they are not read from either). */
  readonly blockedConnections: number;
  /** Request bytes read and not yet served, over all connections. */
  readonly bufferedRequestBytes: number;
  readonly draining: boolean;
  /** Whether each uid and process gets a share of the connection limit, or why not. */
  readonly peerShares: PeerShareInfo;
}

export interface ServiceOptions {
  /** The model to start with. */
  readonly model: LoadedModel;
  /** The store and its pipeline; without them `record` and `fit` answer `E_NO_STORE`. */
  readonly recording?: { readonly store: Store; readonly pipeline: RecordingPipeline } | undefined;
  /** Where `fit` runs (default: a worker thread when built, else inline). */
  readonly fitter?: Fitter;
  /** Priors a `fit` shrinks toward; null for none. */
  readonly priorsPath?: string | null;
  /** `slo.alpha` when a `decide` leaves it out. Default 0.01. */
  readonly defaultAlpha?: number;
  /** Wall clock, ms since the epoch (model time stamps). Default `Date.now`. */
  readonly now?: () => number;
  /** Pass on an `abort` from an uncalibrated bound instead of deferring it (`defer.ts`). Default false. */
  readonly abortWithoutModel?: boolean;
}

export class Service {
  /** Set by the server so `health` can report the socket side. */
  serverInfo: (() => ServerInfo) | undefined;
  private model: LoadedModel;
  private readonly recording: ServiceOptions['recording'];
  private readonly refitter: Refitter | undefined;
  private readonly fitter: Fitter;
  private readonly defaultAlpha: number;
  private readonly abortWithoutModel: boolean;
  private readonly startedMs = performance.now();
  /** `serve@<wall-clock start ms>`: the prefix of every record source this run stores. */
  private readonly sourcePrefix: string;

  constructor(options: ServiceOptions) {
    this.model = options.model;
    this.recording = options.recording;
    this.fitter = options.fitter ?? defaultFitter();
    this.defaultAlpha = options.defaultAlpha ?? 0.01;
    this.abortWithoutModel = options.abortWithoutModel ?? false;
    this.sourcePrefix = `serve@${Math.round((options.now ?? Date.now)())}`;
    const r = options.recording;
    this.refitter =
      r === undefined
        ? undefined
        : new Refitter({
            fitter: this.fitter,
            store: r.store,
            pipeline: r.pipeline,
            priorsPath: options.priorsPath ?? null,
            now: options.now ?? Date.now,
            onModel: (m) => {
              this.model = m;
            },
          });
  }

  /** The model `decide` uses now. */
  get currentModel(): LoadedModel {
    return this.model;
  }

  /** Answers one request line (without its newline) with one reply line (with it). Never throws. */
  handleLine(line: string, ctx: RequestContext): string | Promise<string> {
    const req = parseRequest(line);
    if (isBadRequest(req)) return errorLine(req.id, req.error);
    try {
      switch (req.method) {
        case 'decide': {
          const p = parseDecideParams(req.params, this.defaultAlpha);
          if (p.ladder === undefined) return resultLine(req.id, served(decide(p.snapshot, this.model.compiled, p.slo), this.abortWithoutModel));
          const leveled = decideAtLowestLevel(p.snapshot, this.model.compiled, p.slo, p.ladder.levels, p.ladder.from);
          return resultLine(req.id, { ...served(leveled.decision, this.abortWithoutModel), level: leveled.level });
        }
        case 'record':
          return this.record(req.id, req.params, ctx);
        case 'fit':
          return this.fit(req.id, req.params);
        case 'model':
          return resultLine(req.id, modelSummary(this.model));
        case 'health':
          return resultLine(req.id, this.health());
      }
    } catch (e) {
      return errorLine(req.id, asServiceError(e));
    }
  }

  /** The recording pipeline's totals (undefined without a store). */
  get recordStats(): PipelineStats | undefined {
    return this.recording?.pipeline.stats;
  }

  /** Stops a running fit; called when the server starts draining. */
  stop(): void {
    this.refitter?.stop();
  }

  private record(id: RequestId, params: Obj, ctx: RequestContext): string | Promise<string> {
    const { records, flush } = recordList(params);
    const pipeline = this.needRecording().pipeline;
    const reply = pushRecords(pipeline, records, { file: `${this.sourcePrefix}#${ctx.connectionId}`, line: ctx.line });
    if (!flush) return resultLine(id, reply);
    return pipeline.flush().then(
      () => resultLine(id, { ...reply, committed: true } satisfies RecordReply),
      (e: unknown) => errorLine(id, asServiceError(e)),
    );
  }

  private fit(id: RequestId, params: Obj): Promise<string> {
    const fitParams = parseFitParams(params);
    if (this.refitter === undefined) throw noStore();
    return this.refitter.fit(fitParams).then(
      (r) => resultLine(id, { model: modelSummary(r.model), durationMs: r.durationMs, joined: r.joined, ranIn: this.fitter.kind }),
      (e: unknown) => errorLine(id, asServiceError(e)),
    );
  }

  private needRecording(): NonNullable<ServiceOptions['recording']> {
    if (this.recording === undefined) throw noStore();
    return this.recording;
  }

  private health(): Record<string, unknown> {
    const server = this.serverInfo?.();
    const stats = this.recording?.pipeline.stats;
    const m = this.model;
    return {
      // A store that refuses writes is not "ok": records queue, then spill, and may be lost.
      status: server?.draining === true ? 'draining' : stats?.faulted === true ? 'store-faulted' : 'ok',
      server: { name: 'vfio-sla', version: VERSION },
      protocol: PROTOCOL_VERSION,
      defaultAlpha: this.defaultAlpha,
      pid: process.pid,
      uptimeMs: performance.now() - this.startedMs,
      socket: server?.socketPath ?? null,
      connections: server?.connections ?? 0,
      blockedConnections: server?.blockedConnections ?? 0,
      bufferedRequestBytes: server?.bufferedRequestBytes ?? 0,
      peerShares: server?.peerShares ?? null,
      store: this.recording?.store.path ?? null,
      queuedRecords: stats?.pending ?? 0,
      records: stats === undefined ? null : { accepted: stats.accepted, rejected: stats.rejected, committed: stats.committed, faulted: stats.faulted },
      model: { loaded: true, name: m.fitted.name, source: m.source, fittedAt: m.fitted.fittedAt, priorsOnly: m.source === 'priors' },
      fit: { runsIn: this.fitter.kind, running: this.refitter?.running ?? false, last: this.refitter?.last ?? null },
    };
  }
}

function noStore(): ServiceError {
  return new ServiceError('E_NO_STORE', 'this server was started without a database');
}

/** Any error as the reply it becomes: ours as they are, the governor's and pipeline's by code. */
export function asServiceError(e: unknown): ServiceError {
  if (e instanceof ServiceError) return e;
  if (e instanceof GovernorError && (e.code === 'E_BAD_SLO' || e.code === 'E_BAD_SNAPSHOT')) {
    return new ServiceError(e.code, e.message.replace(/^E_[A-Z_]+: /, ''));
  }
  if (e instanceof PipelineError && e.code === 'E_CLOSED') return new ServiceError('E_SHUTTING_DOWN', 'the server is shutting down');
  const err = e as { message?: unknown; code?: unknown } | null;
  const code = typeof err?.code === 'string' ? `${err.code}: ` : '';
  return new ServiceError('E_INTERNAL', `${code}${typeof err?.message === 'string' ? err.message : String(e)}`, undefined, { cause: e });
}
