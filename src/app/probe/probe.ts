/**
 * Probing a device model before admitting it to a fleet: N loopback migration cycles
 * (loopback-migration.ts) between a device and a second instance, every arc, size, transfer and
 * outcome recorded into the store, a model refitted from the store as records come in, and a
 * summary of per-arc latencies and fitted lines.
 *
 * A device model the priors do not know starts from the prior of a stand-in model
 * (`priorFrom`, default `qat-vf`, whose prior has every arc of STOP_COPY|P2P|PRE_COPY) and is shrunk toward its own data as cycles run. A model
 * whose migration size never changes (mtty's is constant) cannot identify a size slope: the
 * summary says "no size spread" instead of presenting the fitted slope (0) as a finding.
 */
import { quantile } from 'simple-statistics';
import { realTimeClock, type NowSource } from '../../governor/clock.js';
import { fitModel } from '../../estimators/fit.js';
import type { ArcLatencyModel, FittedModel } from '../../estimators/types.js';
import { iterateArcs, listMigrations, outcomes, sizes, transfers } from '../../store/index.js';
import type { Store } from '../../store/store.js';
import type { RecordingPipeline } from '../../telemetry/pipeline.js';
import type { TelemetryRecord } from '../../records/records.js';
import { migrateLoopback, type CycleResult, type StreamDevice } from './loopback-migration.js';

export interface ProbeOptions {
  readonly cycles: number;
  /** Blackout deadline of each switchover, ms. */
  readonly deadlineMs: number;
  readonly store: Store;
  readonly pipeline: RecordingPipeline;
  /** Priors to shrink toward (`buildPriors()` or a loaded model). */
  readonly priors: FittedModel;
  /** Prior device model that stands in for a device model the priors lack (`qat-vf`, whose prior has every arc of STOP_COPY|P2P|PRE_COPY). */
  readonly priorFrom?: string;
  /** Migration ids are `<prefix>-<n>` (default `probe-<device id>-<epoch ms>`). */
  readonly migrationPrefix?: string;
  /** Refit the model after this many cycles (5). */
  readonly refitEvery?: number;
  readonly clock?: NowSource;
  readonly alpha?: number;
  /** Called after each cycle (progress). */
  readonly onCycle?: (r: CycleResult, index: number) => void;
}

/** Latencies of one arc of the probed device model. */
export interface ArcSummary {
  readonly arc: string;
  readonly n: number;
  readonly failed: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Distinct MIG_DATA_SIZE values the arc was seen with. */
  readonly distinctSizes: number;
  /** The fitted line (absent when the model has no such arc). */
  readonly fit?: ArcLatencyModel;
  /** True when every sample had the same size: the slope is not identified. */
  readonly noSizeSpread: boolean;
  /** The ioctl alone, timed by the helper where it runs (CLOCK_MONOTONIC), when known, ms. */
  readonly kernelP50Ms?: number;
  readonly kernelP99Ms?: number;
}

/** Adds the helper-timed ioctl latencies (`"FROM>TO"` → ms samples) to the summaries. */
export function withKernelTimes(arcs: readonly ArcSummary[], kernelMs: ReadonlyMap<string, readonly number[]>): ArcSummary[] {
  return arcs.map((a) => {
    const ms = kernelMs.get(a.arc);
    return ms === undefined || ms.length === 0 ? a : { ...a, kernelP50Ms: quantile([...ms], 0.5), kernelP99Ms: quantile([...ms], 0.99) };
  });
}

export interface ProbeReport {
  readonly deviceModel: string;
  readonly migrationPrefix: string;
  readonly cycles: readonly CycleResult[];
  readonly committed: number;
  readonly failed: number;
  readonly arcs: readonly ArcSummary[];
  readonly model: FittedModel;
}

/** `priors` with `deviceModel`'s arcs borrowed from `priorFrom` when it has none of its own. */
export function priorsFor(priors: FittedModel, deviceModel: string, priorFrom: string): FittedModel {
  if (priors.arcs[deviceModel] !== undefined) return priors;
  const standIn = priors.arcs[priorFrom];
  if (standIn === undefined) return priors;
  const borrowed = Object.fromEntries(
    Object.entries(standIn).map(([k, m]) => [k, { ...m, provenance: `borrowed from the ${priorFrom} prior: ${m.provenance ?? ''}`.trim() }]),
  );
  return { ...priors, arcs: { ...priors.arcs, [deviceModel]: borrowed } };
}

/** Every record of migrations whose id starts with `prefix`, read back from the store. */
export function storedRecords(store: Store, prefix: string): TelemetryRecord[] {
  const mine = (id: string): boolean => id.startsWith(prefix);
  const out: TelemetryRecord[] = [...iterateArcs(store)].filter((r) => mine(r.migrationId));
  out.push(...transfers(store).filter((r) => mine(r.migrationId)), ...outcomes(store).filter((r) => mine(r.migrationId)));
  for (const m of listMigrations(store)) if (mine(m.migrationId)) out.push(...sizes(store, m.migrationId));
  return out;
}

/** Runs the cycles; the store holds every record when it resolves. */
export async function runProbe(source: StreamDevice, destination: StreamDevice, o: ProbeOptions): Promise<ProbeReport> {
  if (!(Number.isInteger(o.cycles) && o.cycles > 0)) throw new RangeError(`cycles must be a positive integer, got ${o.cycles}`);
  const clock = o.clock ?? realTimeClock;
  const prefix = o.migrationPrefix ?? `probe-${source.id}-${Date.now()}`;
  const priors = priorsFor(o.priors, source.model, o.priorFrom ?? 'qat-vf');
  const refit = async (): Promise<FittedModel> => {
    await o.pipeline.flush();
    return fitModel(storedRecords(o.store, prefix), priors, { name: `probe-${source.model}`, provenance: `vfio-sla probe ${prefix}` });
  };
  let model = await refit();
  const cycles: CycleResult[] = [];
  for (let i = 0; i < o.cycles; i++) {
    const r = await migrateLoopback(source, destination, {
      model,
      sink: o.pipeline,
      clock,
      migrationId: `${prefix}-${i + 1}`,
      deadlineMs: o.deadlineMs,
      ...(o.alpha === undefined ? {} : { alpha: o.alpha }),
    });
    cycles.push(r);
    o.onCycle?.(r, i);
    if ((i + 1) % (o.refitEvery ?? 5) === 0) model = await refit();
  }
  model = await refit();
  const records = storedRecords(o.store, prefix);
  return {
    deviceModel: source.model,
    migrationPrefix: prefix,
    cycles,
    committed: cycles.filter((c) => c.committed && c.failure === undefined).length,
    failed: cycles.filter((c) => c.failure !== undefined).length,
    arcs: summariseArcs(records, source.model, model),
    model,
  };
}

/** Per-arc p50/p99 of the ok arcs of `deviceModel`, with the model's fitted line. */
export function summariseArcs(records: readonly TelemetryRecord[], deviceModel: string, model: FittedModel): ArcSummary[] {
  const byArc = new Map<string, { ms: number[]; sizes: Set<number>; failed: number }>();
  for (const r of records) {
    if (r.kind !== 'arc' || r.deviceModel !== deviceModel) continue;
    const key = `${r.from}>${r.to}`;
    const b = byArc.get(key) ?? { ms: [], sizes: new Set<number>(), failed: 0 };
    if (r.ok) {
      b.ms.push(r.latencyMs);
      b.sizes.add(r.stopCopyBytes);
    } else b.failed++;
    byArc.set(key, b);
  }
  return [...byArc.entries()]
    .filter(([, b]) => b.ms.length > 0)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([arc, b]) => {
      const fit = model.arcs[deviceModel]?.[arc];
      return {
        arc,
        n: b.ms.length,
        failed: b.failed,
        p50Ms: quantile(b.ms, 0.5),
        p99Ms: quantile(b.ms, 0.99),
        distinctSizes: b.sizes.size,
        ...(fit === undefined ? {} : { fit }),
        noSizeSpread: b.sizes.size < 2,
      };
    });
}

