/**
 * Time to completion of a migration from now: the pre-copy rounds still to run plus the blackout.
 * KubeVirt's vGPU live-migration proposal makes "estimate the maximum period for the migration"
 * a Beta requirement; no VMM gives one (switchover-today.md). The pre-copy part is the AVG
 * projection (`precopy.ts`, Akoush et al. 2010) to the size at which the switchover fits; its
 * error is learned like the blackout's: conformal scores ln(actual / projected) over pre-copy
 * polls of past migrations (Vovk et al.; the same split-conformal rank as `conformal.ts`).
 *
 * Pure: no I/O. The scores come with the model ({@link PrecopyTimeModel}) or, in evaluation,
 * from training folds only.
 */
import { conformalQuantile, MIN_SCORED_MS } from './conformal.js';
import { projectPrecopy, type PrecopyState } from './precopy.js';
import { precopyPlateauBytes } from './precopy-plateau.js';
import { median } from './robust.js';
import type { RamRecord, TelemetryRecord } from '../records/records.js';
import type { MigrationData } from './migrations.js';
import type { PrecopyTimeModel } from './types.js';


/** The pre-copy time bound: `projectedMs` × e^(1 − α score quantile); undefined when the scores are too few for α. */
export function precopyTimeBoundMs(projectedMs: number, sortedScores: ArrayLike<number>, alpha: number): number | undefined {
  if (projectedMs === Infinity) return Infinity;
  const q = conformalQuantile(sortedScores, alpha);
  return q === undefined ? undefined : Math.max(projectedMs, projectedMs * Math.exp(q));
}

/** Pre-copy as QEMU sees it at one poll. */
export interface SwitchoverClockState extends PrecopyState {
  /**
   * Time since QEMU's last dirty-bitmap sync, ms (0 when unknown). `ram.remaining` counts only
   * pages found dirty at that sync; what the guest dirtied since is found at the next sync.
   */
  readonly sinceSyncMs?: number;
}

/**
 * Pre-copy time until pending bytes fit `targetBytes` as QEMU checks it, ms (Infinity: never,
 * within `maxTimeMs`). QEMU tests the estimate (`remaining`) against the threshold and, when it
 * fits, syncs the bitmap and tests the exact figure (`migration_iteration_run()`,
 * switchover-today.md §1.1): the exact figure adds what was dirtied since the last sync. So the
 * round in progress first runs out (remaining / bandwidth), leaving dirty rate × (time since the
 * sync + that round's rest) for the next round; from there the AVG projection (`precopy.ts`).
 */
export function switchoverInMs(s: SwitchoverClockState, targetBytes: number, maxTimeMs = Infinity): number {
  const since = Math.max(0, s.sinceSyncMs ?? 0);
  const dirty = Math.max(0, s.dirtyBytesPerS);
  if (s.remainingBytes + (dirty * since) / 1000 <= targetBytes) return 0;
  if (!(s.bandwidthBytesPerS > 0)) return Infinity;
  const roundMs = (Math.max(0, s.remainingBytes) / s.bandwidthBytesPerS) * 1000;
  const next = Math.min((dirty * (since + roundMs)) / 1000, s.wwsBytes ?? Infinity);
  const state = { remainingBytes: next, dirtyBytesPerS: dirty, bandwidthBytesPerS: s.bandwidthBytesPerS, ...(s.wwsBytes === undefined ? {} : { wwsBytes: s.wwsBytes }) };
  const p = projectPrecopy(state, targetBytes, { maxTimeMs: maxTimeMs - roundMs });
  return p.reachesTarget ? roundMs + p.timeMs : Infinity;
}

/**
 * The 1 − α bound on `precopyMs` of pre-copy still to run: the learned projection error when
 * there are enough scores for α, and never past `budgetMs` (the governor aborts there); Infinity
 * with neither. Never below `precopyMs`.
 */
export function precopyBoundWithinBudgetMs(precopyMs: number, sortedScores: ArrayLike<number>, alpha: number, budgetMs: number): number {
  const learned = precopyTimeBoundMs(precopyMs, sortedScores, alpha) ?? Infinity;
  return Math.max(precopyMs, Math.min(learned, budgetMs));
}

/** One pre-copy poll of a finished migration: what was projected then, and what happened. */
export interface PrecopyTimePoint {
  readonly migrationId: string;
  /** Poll time from the migration's first RAM poll, ms. */
  readonly atMs: number;
  /** AVG projection of the pre-copy time left to QEMU's switchover size, ms (Infinity: does not converge). */
  readonly projectedMs: number;
  /** Time from the poll to the end of the migration (pre-copy + blackout), ms. */
  readonly actualMs: number;
}

/**
 * The scored polls of one migration switched over by QEMU's own rule (outcome policy `qemu`):
 * QEMU completes once pending ≤ bandwidth × downtime-limit (`migration_iteration_run()` /
 * `threshold_size`, switchover-today.md §1.1–1.2), so that is the target each poll is projected
 * to, with the outcome's `deadlineMs` as the downtime-limit. The end of the migration is the
 * pre-copy transfer's end plus the stop-copy transfer (the importer's `transfer` pair, both
 * timed from the migration start, taken to be the first RAM poll). Polls before QEMU's first dirty-bitmap
 * sync are skipped: QEMU's dirty rate is 0 there for "not measured yet". Empty when the
 * migration lacks the outcome or the transfer pair.
 */
export function precopyTimePoints(migrationId: string, records: readonly TelemetryRecord[]): PrecopyTimePoint[] {
  let downtimeLimitMs: number | undefined;
  let precopyMs: number | undefined;
  let stopcopyMs: number | undefined;
  const rams: RamRecord[] = [];
  for (const r of records) {
    if (r.kind === 'outcome' && r.policy === 'qemu') downtimeLimitMs = r.deadlineMs;
    else if (r.kind === 'transfer' && r.deviceId === 'ram') {
      if (r.phase === 'precopy') precopyMs = r.durationMs;
      else stopcopyMs = r.durationMs;
    } else if (r.kind === 'ram') rams.push(r);
  }
  if (downtimeLimitMs === undefined || precopyMs === undefined || stopcopyMs === undefined) return [];
  const endMs = precopyMs + stopcopyMs;
  // Record times are epoch ms; QEMU's durations count from the migration's start, taken to be
  // its first RAM poll.
  const t0 = rams.reduce((m, r) => Math.min(m, r.atMs), Infinity);
  const points: PrecopyTimePoint[] = [];
  // The sync that began a pass is taken to be at the first poll that reported the pass.
  let pass = -1;
  let syncAtMs = 0;
  // Pending bytes at the start of each pass after the first (the first is the whole RAM).
  const passStarts: number[] = [];
  for (const r of rams) {
    const atMs = r.atMs - t0;
    if (r.pass !== pass) {
      if (pass !== -1) passStarts.push(r.remainingBytes);
      pass = r.pass;
      syncAtMs = atMs;
    }
    if (!(r.dirtyBytesPerS > 0) || !(atMs < precopyMs)) continue;
    const target = r.bandwidthBytesPerS * (downtimeLimitMs / 1000);
    const state = { remainingBytes: r.remainingBytes, dirtyBytesPerS: r.dirtyBytesPerS, bandwidthBytesPerS: r.bandwidthBytesPerS, sinceSyncMs: atMs - syncAtMs };
    points.push({ migrationId, atMs, projectedMs: projectedSwitchoverMs(state, target, passStarts), actualMs: endMs - atMs });
  }
  return points;
}

/** Pass-to-pass ratios the observed shrink is the median of (choice: 3, one odd pass does not move it). */
export const PASS_TREND_RATIOS = 3;

/**
 * The shrink per pass QEMU's own passes showed: the median ratio of consecutive pass starts over
 * the last {@link PASS_TREND_RATIOS}; undefined with fewer passes.
 */
export function observedPassShrink(passStartBytes: readonly number[]): number | undefined {
  const n = passStartBytes.length;
  if (n < PASS_TREND_RATIOS + 1) return undefined;
  const ratios: number[] = [];
  for (let i = n - PASS_TREND_RATIOS; i < n; i++) ratios.push((passStartBytes[i] as number) / Math.max(1, passStartBytes[i - 1] as number));
  return median(ratios);
}

/**
 * Pre-copy time until QEMU's switchover size, ms (Infinity: not on its own). Three views, the
 * most informed one the history allows:
 * - the passes have levelled off above the target (`precopy-plateau.ts`: the writable working
 *   set): Infinity;
 * - after a few passes, the shrink per pass QEMU's passes showed ({@link observedPassShrink}),
 *   not the dirty-rate ratio ρ of this poll: ρ = D / B assumes every page dirtied during a round
 *   is new, which a workload rewriting a working set breaks (Clark et al. 2005) — the passes then
 *   shrink more slowly than ρ says, or not at all; the current pass runs out, then each pass
 *   starts at that shrink × the last one's start;
 * - before that, the AVG projection from this poll's rates ({@link switchoverInMs}).
 */
export function projectedSwitchoverMs(s: SwitchoverClockState, targetBytes: number, passStartBytes: readonly number[]): number {
  const plateau = precopyPlateauBytes(passStartBytes);
  if (plateau !== undefined && plateau > targetBytes) return Infinity;
  const shrink = observedPassShrink(passStartBytes);
  const lastStart = passStartBytes[passStartBytes.length - 1];
  if (shrink === undefined || lastStart === undefined) return switchoverInMs(s, targetBytes);
  if (!(s.bandwidthBytesPerS > 0)) return Infinity;
  const roundMs = (Math.max(0, s.remainingBytes) / s.bandwidthBytesPerS) * 1000;
  const p = projectPrecopy({ remainingBytes: shrink * lastStart, dirtyBytesPerS: shrink * s.bandwidthBytesPerS, bandwidthBytesPerS: s.bandwidthBytesPerS }, targetBytes);
  return p.reachesTarget ? roundMs + p.timeMs : Infinity;
}

/**
 * {@link precopyTimePoints} of a collected migration (`migrations.ts`): its outcome, RAM transfers
 * and RAM polls, a poll the store returned twice counted once.
 */
export function precopyTimePointsOf(d: MigrationData): PrecopyTimePoint[] {
  if (d.outcome?.policy !== 'qemu' || d.ramPrecopyTransfer === undefined) return [];
  const ramStopcopy = d.stopcopyTransfers.find((t) => t.deviceId === 'ram');
  if (ramStopcopy === undefined) return [];
  const rams = [...d.rams].sort((a, b) => a.atMs - b.atMs).filter((r, i, all) => i === 0 || r.atMs !== all[i - 1]!.atMs);
  return precopyTimePoints(d.migrationId, [d.outcome, d.ramPrecopyTransfer, ramStopcopy, ...rams]);
}

/** ln(actual / projected) of a poll that projects to converge (floored like blackout scores). */
export function precopyTimeScore(p: PrecopyTimePoint): number {
  return Math.log(Math.max(MIN_SCORED_MS, p.actualMs) / Math.max(MIN_SCORED_MS, p.projectedMs));
}

/** A {@link PrecopyTimeModel} from finished migrations' polls (those projected not to converge carry no score). */
export function precopyTimeModel(points: readonly PrecopyTimePoint[], provenance?: string): PrecopyTimeModel {
  const scores = points.filter((p) => p.projectedMs !== Infinity).map(precopyTimeScore).sort((a, b) => a - b);
  return { n: scores.length, logRatioScores: scores, ...(provenance === undefined ? {} : { provenance }) };
}
