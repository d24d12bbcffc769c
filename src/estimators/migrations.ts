/**
 * From a migration's telemetry records to the facts the estimators learn from: what crossed the
 * link in the blackout, which arcs ran in it, what was known at the decision (the query the
 * governor would have asked), and what happened (the outcome). Works the same for records the
 * wrapper made and for real QEMU data imported by `qemu/qmp-log.ts`.
 *
 * Records are collected once into {@link MigrationData}, arcs as columns of numbers: a fit over a
 * million arcs then keeps no million objects alive (the garbage collector, not the maths, was
 * the cost), and the folds of a cross-fit re-bucket from the columns.
 */
import { MigFlags, MigState, parseStateName } from '../fsm/index.js';
import type { OutcomeRecord, RamRecord, SizeRecord, TelemetryRecord, TransferRecord } from '../records/records.js';
import { arcPlacement, stackKey, type ArcPlacement } from './stack.js';
import type { BlackoutDevice, BlackoutQuery } from './types.js';

/** One migration's records, arcs as columns (index i is one arc). */
export interface MigrationData {
  readonly migrationId: string;
  outcome: OutcomeRecord | undefined;
  readonly rams: RamRecord[];
  readonly sizes: SizeRecord[];
  readonly stopcopyTransfers: TransferRecord[];
  /** QEMU's version on each side (`stack` records); undefined: not known. */
  readonly qemuVersion: { source: string | undefined; destination: string | undefined };
  /** The RAM pre-copy transfer (its duration ends pre-copy): what the pre-copy time is learned from. */
  ramPrecopyTransfer: TransferRecord | undefined;
  // The arc columns are the collector's own arrays, or — from a columnar reader, until more
  // arcs of the migration come — the columns it handed over (`addArcColumns`), e.g. views of a
  // store batch: no copy of a million arcs.
  arcDeviceId: readonly string[];
  arcModel: readonly string[];
  /** MigState numbers. */
  arcFrom: ArcNumbers;
  arcTo: ArcNumbers;
  arcStartedAtMs: ArcNumbers;
  arcLatencyMs: ArcNumbers;
  arcStopCopyBytes: ArcNumbers;
  arcOk: readonly boolean[];
}

/** A number column of a migration's arcs. */
export type ArcNumbers = readonly number[] | Float64Array;

/** What one migration's records say about its blackout. */
export interface MigrationFacts {
  readonly migrationId: string;
  readonly outcome: OutcomeRecord | undefined;
  /** Σ bytes of `stopcopy` transfers (RAM and devices); undefined when none was recorded. */
  readonly blackoutBytes: number | undefined;
  /** Bytes of the `ram` stop-copy transfer; undefined when none was recorded. */
  readonly ramBlackoutBytes: number | undefined;
  /**
   * How long the blackout's transfer took, ms, when the VMM timed it (every `stopcopy` transfer
   * record has a duration; the longest, as they run side by side): undefined when none was
   * recorded. Only one shorter than the blackout was timed apart from it (a QMP import's transfer
   * lasts the whole downtime unless the source's downtime checkpoints were traced:
   * `VfioTraceTracker.blackoutTransferMs`, `qemu/vfio-trace.ts`); `termCalibration` keeps only those.
   */
  readonly blackoutTransferMs: number | undefined;
  /** The link the blackout bytes crossed ({@link blackoutLink}); undefined when no transfer named one. */
  readonly link: string | undefined;
  /** The last `ram` record at or before the decision. */
  readonly decisionRam: RamRecord | undefined;
  /** Wall time covered by the recorded device arcs inside the blackout (union of intervals), ms. */
  readonly blackoutArcsMs: number;
  /** Per arc (index of {@link MigrationData}'s columns): whether it ran inside the blackout. */
  readonly arcInsideBlackout: readonly boolean[];
  /** Where the source's STOP_COPY→STOP was placed, by its QEMU version (or assumed). */
  readonly placement: ArcPlacement;
  /** The source QEMU's version (`stack` record); undefined when not known. */
  readonly qemuVersion: string | undefined;
  /** Calibration group: QEMU major (and pending-size semantics) × device models ({@link stackKey}). */
  readonly stack: string;
  /** What was known at the decision, as `predictBlackout` takes it. */
  readonly query: BlackoutQuery;
}

function emptyData(migrationId: string): MigrationData {
  return {
    migrationId,
    outcome: undefined,
    rams: [],
    sizes: [],
    stopcopyTransfers: [],
    qemuVersion: { source: undefined, destination: undefined },
    ramPrecopyTransfer: undefined,
    arcDeviceId: [],
    arcModel: [],
    arcFrom: [],
    arcTo: [],
    arcStartedAtMs: [],
    arcLatencyMs: [],
    arcStopCopyBytes: [],
    arcOk: [],
  };
}

/** Arcs of one migration as columns, for {@link MigrationCollector.addArcColumns}. */
export interface ArcColumns {
  readonly deviceId: readonly string[];
  readonly deviceModel: readonly string[];
  readonly from: ArcNumbers;
  readonly to: ArcNumbers;
  readonly startedAtMs: ArcNumbers;
  readonly latencyMs: ArcNumbers;
  readonly stopCopyBytes: ArcNumbers;
  readonly ok: readonly boolean[];
}

/** The arc columns of a {@link MigrationData} as arrays the collector owns and appends to. */
interface OwnArcs {
  arcDeviceId: string[];
  arcModel: string[];
  arcFrom: number[];
  arcTo: number[];
  arcStartedAtMs: number[];
  arcLatencyMs: number[];
  arcStopCopyBytes: number[];
  arcOk: boolean[];
}

function append<T>(target: T[], values: ArrayLike<T>): void {
  for (let i = 0; i < values.length; i++) target.push(values[i] as T);
}

/**
 * Collects records (any order, any mix) by migration, in one pass. Arcs can also be added as
 * plain values ({@link addArc}), so a reader of a columnar source (the SQLite store) need not
 * build a million record objects first.
 */
export class MigrationCollector {
  readonly migrations = new Map<string, MigrationData>();
  private last: MigrationData | undefined;
  /** Migrations whose arc columns are another's (handed over by `addArcColumns`), not yet copied. */
  private readonly borrowed = new WeakSet<MigrationData>();

  /** The data of `migrationId`, created on first use. */
  data(migrationId: string): MigrationData {
    // Records usually come migration by migration: skip the lookup then.
    const last = this.last;
    if (last !== undefined && last.migrationId === migrationId) return last;
    let d = this.migrations.get(migrationId);
    if (d === undefined) this.migrations.set(migrationId, (d = emptyData(migrationId)));
    this.last = d;
    return d;
  }

  /** `d`'s arc columns as arrays of its own, copied first when they were handed over. */
  private own(d: MigrationData): OwnArcs {
    if (this.borrowed.delete(d)) {
      d.arcDeviceId = Array.from(d.arcDeviceId);
      d.arcModel = Array.from(d.arcModel);
      d.arcFrom = Array.from(d.arcFrom);
      d.arcTo = Array.from(d.arcTo);
      d.arcStartedAtMs = Array.from(d.arcStartedAtMs);
      d.arcLatencyMs = Array.from(d.arcLatencyMs);
      d.arcStopCopyBytes = Array.from(d.arcStopCopyBytes);
      d.arcOk = Array.from(d.arcOk);
    }
    return d as unknown as OwnArcs;
  }

  /** Adds one arc as values (states as MigState numbers). */
  addArc(
    migrationId: string,
    deviceId: string,
    deviceModel: string,
    from: number,
    to: number,
    startedAtMs: number,
    latencyMs: number,
    stopCopyBytes: number,
    ok: boolean,
  ): void {
    const d = this.own(this.data(migrationId));
    d.arcDeviceId.push(deviceId);
    d.arcModel.push(deviceModel);
    d.arcFrom.push(from);
    d.arcTo.push(to);
    d.arcStartedAtMs.push(startedAtMs);
    d.arcLatencyMs.push(latencyMs);
    d.arcStopCopyBytes.push(stopCopyBytes);
    d.arcOk.push(ok);
  }

  /**
   * Adds a migration's arcs as columns (index i of each is one arc; states as MigState
   * numbers): what a columnar reader hands over without a call per arc. The first columns of a
   * migration are kept as they are, not copied (a million arcs were a million pushes per
   * column): the caller must not change them afterwards.
   */
  addArcColumns(migrationId: string, arcs: ArcColumns): void {
    const data = this.data(migrationId);
    if (data.arcOk.length === 0) {
      data.arcDeviceId = arcs.deviceId;
      data.arcModel = arcs.deviceModel;
      data.arcFrom = arcs.from;
      data.arcTo = arcs.to;
      data.arcStartedAtMs = arcs.startedAtMs;
      data.arcLatencyMs = arcs.latencyMs;
      data.arcStopCopyBytes = arcs.stopCopyBytes;
      data.arcOk = arcs.ok;
      this.borrowed.add(data);
      return;
    }
    const d = this.own(data);
    append(d.arcDeviceId, arcs.deviceId);
    append(d.arcModel, arcs.deviceModel);
    append(d.arcFrom, arcs.from);
    append(d.arcTo, arcs.to);
    append(d.arcStartedAtMs, arcs.startedAtMs);
    append(d.arcLatencyMs, arcs.latencyMs);
    append(d.arcStopCopyBytes, arcs.stopCopyBytes);
    append(d.arcOk, arcs.ok);
  }

  /** Adds one record (arcs with unknown state names are dropped). */
  add(r: TelemetryRecord): void {
    switch (r.kind) {
      case 'arc': {
        const from = parseStateName(r.from);
        const to = parseStateName(r.to);
        if (from !== undefined && to !== undefined) {
          this.addArc(r.migrationId, r.deviceId, r.deviceModel, from, to, r.startedAtMs, r.latencyMs, r.stopCopyBytes, r.ok);
        }
        return;
      }
      case 'outcome':
        this.data(r.migrationId).outcome = r;
        return;
      case 'ram':
        this.data(r.migrationId).rams.push(r);
        return;
      case 'size':
        this.data(r.migrationId).sizes.push(r);
        return;
      case 'transfer':
        if (r.phase === 'stopcopy') this.data(r.migrationId).stopcopyTransfers.push(r);
        else if (r.deviceId === 'ram') this.data(r.migrationId).ramPrecopyTransfer = r;
        return;
      case 'attempt':
        // How an attempt ended says nothing about latencies: the fit reads outcomes only.
        return;
      case 'stack':
        this.data(r.migrationId).qemuVersion[r.side] = r.qemuVersion;
        return;
    }
  }

  /** Adds every record of `records`. */
  addAll(records: Iterable<TelemetryRecord>): this {
    for (const r of records) this.add(r);
    return this;
  }
}

/** Collects records (any order, any mix) by migration. */
export function collectMigrations(records: Iterable<TelemetryRecord>): Map<string, MigrationData> {
  return new MigrationCollector().addAll(records).migrations;
}

/**
 * Arcs that run around, not inside, the blackout: the destination opens RESUMING beforehand
 * (`vfio_load_setup()`), and since QEMU 8.2 the source's STOP_COPY→STOP runs in cleanup, after
 * the destination resumed (`stack.ts`); before 8.2 that arc is inside.
 */
function outsideBlackout(from: number, to: number, placement: ArcPlacement): boolean {
  if (from === MigState.STOP && to === MigState.RESUMING) return true;
  return from === MigState.STOP_COPY && to === MigState.STOP && placement.stopCopyToStop === 'outside';
}

/** Wall time covered by arcs `idx` (union of their intervals); sorts `idx` by start. */
function unionLengthMs(d: MigrationData, idx: number[]): number {
  const start = d.arcStartedAtMs;
  idx.sort((a, b) => (start[a] as number) - (start[b] as number));
  let total = 0;
  let curStart = Number.NaN;
  let curEnd = Number.NaN;
  for (const i of idx) {
    const s = start[i] as number;
    const e = s + (d.arcLatencyMs[i] as number);
    if (!(s <= curEnd)) {
      if (curEnd > curStart) total += curEnd - curStart;
      curStart = s;
      curEnd = e;
    } else if (e > curEnd) curEnd = e;
  }
  if (curEnd > curStart) total += curEnd - curStart;
  return total;
}

function flagsOf(states: number): MigFlags {
  let flags = MigFlags.STOP_COPY;
  if ((states & ((1 << MigState.RUNNING_P2P) | (1 << MigState.PRE_COPY_P2P))) !== 0) flags |= MigFlags.P2P;
  if ((states & ((1 << MigState.PRE_COPY) | (1 << MigState.PRE_COPY_P2P))) !== 0) flags |= MigFlags.PRE_COPY;
  return flags;
}

/**
 * How far, ms, one arc must reach past the next one's start before the two count as overlapping:
 * 0.05 (50 µs). Record times are Unix-epoch ms in float64, whose spacing near 1.78 × 10¹² is
 * 2.4 × 10⁻⁴ ms, so an arc that starts the instant the previous one ends can read as starting one
 * ulp before it (start + latency rounds up). Without the tolerance, 401 of the 1 244 multi-device
 * blackouts of fleet seeds 1–10's training fleets were read with the wrong shape: source devices
 * stepped one after another as stepped in parallel, or main-channel loads as multifd. Device arcs
 * that really run side by side overlap by milliseconds; a host's event times are µs.
 */
export const SPAN_OVERLAP_TOLERANCE_MS = 0.05;

/** Whether spans sorted by start overlap by more than {@link SPAN_OVERLAP_TOLERANCE_MS} anywhere. */
function spansOverlap(spans: readonly { start: number; end: number }[]): boolean {
  let end = Number.NEGATIVE_INFINITY;
  for (const s of spans) {
    if (s.start < end - SPAN_OVERLAP_TOLERANCE_MS) return true;
    if (s.end > end) end = s.end;
  }
  return false;
}

/**
 * Where the device state went in the blackout, read off the destination's loads (`RESUMING>STOP`
 * in the blackout): true over multifd, false on the main channel, undefined when the records do
 * not tell. QEMU 10 loads device state that came over multifd in a thread per device
 * (`vfio_load_bufs_thread()`, `hw/vfio/migration-multifd.c`), each once its own image is in,
 * beside the rest of the transfer; device state from the main channel is loaded one device after
 * another (`vfio_load_state()`), each after RAM and its own stream. So it is multifd when
 * - two loads overlapped, or
 * - the last load started before the source arcs' end plus the blackout transfer as timed (when
 *   it was timed apart from the blackout, {@link MigrationFacts.blackoutTransferMs}): on the main channel the last
 *   load starts after RAM and every stream, so at or after that. This reads loads that ran beside
 *   the wire but not beside each other (a short load, then the next device's), and a single
 *   device's, as multifd. Reading overlapping loads alone, 359 of the 888 blackouts whose device
 *   state went over multifd in fleet seeds 1–10's training fleets were read as the main channel
 *   (predicted as transfer + Σ loads) or as unknown, while the governor asks such VMs as
 *   multifd; 26 are now (a load that started just after the wire's end), and no main-channel
 *   blackout reads as multifd.
 * Otherwise the main channel when two or more loads were recorded, else undefined.
 */
function deviceStateMultifd(d: MigrationData, idx: readonly number[], timedMs: number | undefined): boolean | undefined {
  const spans: { start: number; end: number }[] = [];
  // The source's arcs by their states (into STOP_COPY, or out of it before QEMU 8.2), not by device
  // id: a host may name a device the same on both sides.
  let sourcesEnd = Number.NEGATIVE_INFINITY;
  for (const i of idx) {
    const start = d.arcStartedAtMs[i] as number;
    const end = start + (d.arcLatencyMs[i] as number);
    if (d.arcTo[i] === MigState.STOP_COPY || d.arcFrom[i] === MigState.STOP_COPY) sourcesEnd = Math.max(sourcesEnd, end);
    else if (d.arcFrom[i] === MigState.RESUMING && d.arcTo[i] === MigState.STOP) spans.push({ start, end });
  }
  if (spans.length === 0) return undefined;
  spans.sort((a, b) => a.start - b.start);
  const lastStart = (spans[spans.length - 1] as { start: number }).start;
  if (timedMs !== undefined && timedMs > 0 && lastStart < sourcesEnd + timedMs - SPAN_OVERLAP_TOLERANCE_MS) return true;
  return spans.length < 2 ? undefined : spansOverlap(spans);
}

/**
 * The devices of the query, rebuilt from the source arcs that led into STOP_COPY (`idx` sorted
 * by start): state = where the first blackout arc started, flags = implied by every state seen,
 * size = the last size poll at or before the decision, else MIG_DATA_SIZE at the first arc.
 */
function sourceDevices(d: MigrationData, idx: readonly number[], decidedAtMs: number): { devices: BlackoutDevice[]; serial: boolean } {
  const byDevice = new Map<string, number[]>();
  for (const i of idx) {
    const id = d.arcDeviceId[i] as string;
    let list = byDevice.get(id);
    if (list === undefined) byDevice.set(id, (list = []));
    list.push(i);
  }
  const devices: BlackoutDevice[] = [];
  const spans: { start: number; end: number }[] = [];
  for (const [id, list] of byDevice) {
    const into = list.find((i) => d.arcTo[i] === MigState.STOP_COPY);
    if (into === undefined) continue; // a destination device: predicted from the source's model
    const first = list[0] as number;
    let states = 0;
    for (const i of list) states |= (1 << (d.arcFrom[i] as number)) | (1 << (d.arcTo[i] as number));
    let stopCopyBytes = d.arcStopCopyBytes[first] as number;
    for (const s of d.sizes) if (s.deviceId === id && s.atMs <= decidedAtMs) stopCopyBytes = s.stopCopyBytes;
    devices.push({ id, model: d.arcModel[first] as string, state: d.arcFrom[first] as MigState, flags: flagsOf(states), stopCopyBytes });
    spans.push({ start: d.arcStartedAtMs[first] as number, end: (d.arcStartedAtMs[into] as number) + (d.arcLatencyMs[into] as number) });
  }
  // In the order of their ids, whatever order the records came in (a store and a Parquet export
  // of it fit the same model to the last bit: sums over devices round alike).
  devices.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  // Serial when each device's chain into STOP_COPY starts after the previous one ended.
  spans.sort((a, b) => a.start - b.start);
  return { devices, serial: spans.length > 1 && !spansOverlap(spans) };
}

/**
 * The link of a migration's blackout: the one its stop-copy transfers name, and when they name
 * several (device state over a second NIC), the one that carried the most bytes — the transfer
 * that dominates the blackout. Undefined when none names a link.
 */
export function blackoutLink(transfers: readonly TransferRecord[]): string | undefined {
  let best: string | undefined;
  let bestBytes = -1;
  const bytesByLink = new Map<string, number>();
  for (const t of transfers) {
    if (t.link === undefined) continue;
    const bytes = (bytesByLink.get(t.link) ?? 0) + t.bytes;
    bytesByLink.set(t.link, bytes);
    // Ties go to the name first seen: deterministic for a given record order.
    if (bytes > bestBytes) {
      best = t.link;
      bestBytes = bytes;
    }
  }
  return best;
}

/** Facts of one collected migration. The decision time is the outcome's `decidedAtMs`; without one, the last `ram` record. */
export function factsOf(d: MigrationData): MigrationFacts {
  const outcome = d.outcome;
  const decidedAtMs = outcome?.decidedAtMs ?? Number.POSITIVE_INFINITY;
  let decisionRam: RamRecord | undefined;
  for (const r of d.rams) if (r.atMs <= decidedAtMs && (decisionRam === undefined || r.atMs >= decisionRam.atMs)) decisionRam = r;
  let blackoutBytes: number | undefined;
  let ramBlackoutBytes: number | undefined;
  let blackoutTransferMs: number | undefined;
  for (const t of d.stopcopyTransfers) {
    blackoutBytes = (blackoutBytes ?? 0) + t.bytes;
    if (t.deviceId === 'ram') ramBlackoutBytes = (ramBlackoutBytes ?? 0) + t.bytes;
    blackoutTransferMs = blackoutTransferMs === undefined ? t.durationMs : Math.max(blackoutTransferMs, t.durationMs);
  }
  const idx: number[] = [];
  const qemuVersion = d.qemuVersion.source;
  const placement = arcPlacement(qemuVersion);
  const arcInsideBlackout = d.arcOk.map(() => false);
  if (outcome !== undefined) {
    for (let i = 0; i < d.arcOk.length; i++) {
      if (d.arcOk[i] && (d.arcStartedAtMs[i] as number) >= decidedAtMs && !outsideBlackout(d.arcFrom[i] as number, d.arcTo[i] as number, placement)) {
        idx.push(i);
        arcInsideBlackout[i] = true;
      }
    }
  }
  const blackoutArcsMs = unionLengthMs(d, idx);
  const { devices, serial } = sourceDevices(d, idx, decidedAtMs);
  const link = blackoutLink(d.stopcopyTransfers);
  // A transfer timed as long as the blackout (a QMP import's) says nothing of where the loads ran.
  const multifd = deviceStateMultifd(d, idx, outcome !== undefined && blackoutTransferMs !== undefined && blackoutTransferMs < outcome.actualBlackoutMs ? blackoutTransferMs : undefined);
  const query: BlackoutQuery = {
    devices,
    ramRemainingBytes: decisionRam?.remainingBytes ?? 0,
    ramDirtyBytesPerS: decisionRam?.dirtyBytesPerS ?? 0,
    serial,
    ...(link === undefined ? {} : { link }),
    ...(placement.stopCopyToStop === 'inside' ? { stopCopyToStopInBlackout: true } : {}),
    ...(multifd === undefined ? {} : { deviceStateMultifd: multifd }),
  };
  const stack = stackKey(qemuVersion, devices.map((x) => x.model));
  return { migrationId: d.migrationId, outcome, blackoutBytes, ramBlackoutBytes, blackoutTransferMs, link, decisionRam, blackoutArcsMs, arcInsideBlackout, placement, qemuVersion, stack, query };
}

/** Facts of one migration from its records (any order; all taken as this migration's). */
export function migrationFacts(migrationId: string, records: readonly TelemetryRecord[]): MigrationFacts {
  const c = new MigrationCollector();
  const d = c.data(migrationId);
  for (const r of records) c.add(r.migrationId === migrationId ? r : { ...r, migrationId });
  return factsOf(d);
}

/**
 * The records {@link migrationFacts} reads: all but the `ram` records other than the one at the
 * decision. Same facts, a fraction of the records — for repeated fits (cross-validation).
 */
export function factRecords(records: readonly TelemetryRecord[]): TelemetryRecord[] {
  const decisionRam = migrationFacts(records[0]?.migrationId ?? '', records).decisionRam;
  return records.filter((r) => r.kind !== 'ram' || r === decisionRam);
}

/** {@link migrationFacts} of every migration in `records`. */
export function allMigrationFacts(records: Iterable<TelemetryRecord>): MigrationFacts[] {
  return [...collectMigrations(records).values()].map(factsOf);
}
