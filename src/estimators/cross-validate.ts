/**
 * Honest evaluation of the blackout predictor by cross-validation over migrations: each
 * migration is predicted — from what was known at its decision (the last `ram` record before it)
 * — by a model fitted, and calibrated, on the other migrations only. Calibration scores are
 * therefore from training folds too (nested), so the reported coverage is what a new migration
 * would see. Compared, on the same migrations, with QEMU's own `expected-downtime` and with the
 * naive "remaining bytes / pre-copy bandwidth" rule (published-numbers.md §8.1: 26.5× and 16.6×
 * off on the shared dataset).
 */
import type { TelemetryRecord } from '../records/records.js';
import { MIN_SCORED_MS } from './conformal.js';
import { fitModel, type FitModelOptions } from './fit.js';
import { factRecords, migrationFacts } from './migrations.js';
import { compileModel, predictBlackout } from './predict.js';
import { quantileSorted, sortedCopy } from './robust.js';
import type { FittedModel } from './types.js';

/** One migration to predict: all its records (outcome included). */
export interface EvalCase {
  readonly migrationId: string;
  readonly records: readonly TelemetryRecord[];
}

/** One migration's predictions and truth, ms. */
export interface EvalRun {
  readonly migrationId: string;
  readonly actualMs: number;
  readonly medianMs: number;
  readonly boundMs: number;
  readonly calibrated: boolean;
  /** QEMU's `expected-downtime` at the decision (an outcome of policy `qemu`), if known. */
  readonly qemuExpectedMs: number | undefined;
  /** Remaining bytes / pre-copy bandwidth at the decision, if known. */
  readonly naiveMs: number | undefined;
}

export interface ErrorSummary {
  readonly n: number;
  /** Median of |log2(predicted / actual)|: 0.6 ≈ within ×1.5. */
  readonly medianAbsLog2Err: number;
  readonly p90AbsLog2Err: number;
}

export interface EvalReport {
  readonly n: number;
  readonly alpha: number;
  readonly ours: ErrorSummary & { readonly coverage: number; readonly meanBoundMs: number; readonly calibratedShare: number };
  readonly qemuExpected: ErrorSummary;
  readonly naive: ErrorSummary;
  readonly runs: readonly EvalRun[];
}

/**
 * How migrations are split into folds: `loo` one migration per fold, a number k folds by index,
 * `category` one fold per category (the migration id's first path segment, e.g. a scenario or a
 * host: every fold is predicted from the other categories only — how the predictor does on a
 * workload it has never seen).
 */
export type EvalFolds = 'loo' | number | 'category';

/** The category of a migration id: its first path segment. */
export function categoryOf(migrationId: string): string {
  return migrationId.split('/')[0] ?? migrationId;
}

/**
 * The fold of each of `ids` (in order) and the number of folds, for {@link EvalFolds}. A number
 * of folds is capped at the migrations (and is at least 2).
 */
export function foldsOf(ids: readonly string[], folds: EvalFolds): { readonly k: number; readonly fold: readonly number[] } {
  if (folds === 'category') {
    const categories = [...new Set(ids.map(categoryOf))];
    return { k: categories.length, fold: ids.map((id) => categories.indexOf(categoryOf(id))) };
  }
  const k = folds === 'loo' ? ids.length : Math.max(2, Math.min(folds, ids.length));
  return { k, fold: ids.map((_, i) => i % k) };
}

export interface CrossValidateOptions {
  readonly alpha: number;
  /** `loo` (default), a number of folds by migration, or `category` ({@link EvalFolds}). */
  readonly folds?: EvalFolds;
  readonly fit?: FitModelOptions;
}

/** |log2(predicted / actual)|, both floored at 1 µs. */
export function absLog2Err(predictedMs: number, actualMs: number): number {
  return Math.abs(Math.log2(Math.max(MIN_SCORED_MS, predictedMs) / Math.max(MIN_SCORED_MS, actualMs)));
}

function summarize(errors: readonly number[]): ErrorSummary {
  const s = sortedCopy(errors);
  return { n: s.length, medianAbsLog2Err: quantileSorted(s, 0.5), p90AbsLog2Err: quantileSorted(s, 0.9) };
}

/**
 * Cross-validates `cases` (only those with an outcome and a `ram` or device state at the
 * decision are predicted; all are used for training). Deterministic.
 */
export function crossValidate(allCases: readonly EvalCase[], priors: FittedModel | undefined, opts: CrossValidateOptions): EvalReport {
  // Each migration is refit into many folds: keep only what a fit reads.
  const cases = allCases.map((c) => ({ migrationId: c.migrationId, records: factRecords(c.records) }));
  const targets = cases.filter((c) => c.records.some((r) => r.kind === 'outcome'));
  const { k, fold: folds } = foldsOf(targets.map((c) => c.migrationId), opts.folds ?? 'loo');
  const foldOf = new Map(targets.map((c, i) => [c.migrationId, folds[i]]));
  const runs: EvalRun[] = [];
  for (let fold = 0; fold < k; fold++) {
    const test = targets.filter((c) => foldOf.get(c.migrationId) === fold);
    if (test.length === 0) continue;
    const train: TelemetryRecord[] = [];
    for (const c of cases) if (foldOf.get(c.migrationId) !== fold) for (const r of c.records) train.push(r);
    const model = compileModel(fitModel(train, priors, opts.fit ?? {}));
    for (const c of test) {
      const facts = migrationFacts(c.migrationId, c.records);
      const outcome = facts.outcome;
      if (outcome === undefined) continue;
      const p = predictBlackout(model, facts.query, opts.alpha);
      const ram = facts.decisionRam;
      runs.push({
        migrationId: c.migrationId,
        actualMs: outcome.actualBlackoutMs,
        medianMs: p.medianMs,
        boundMs: p.boundMs,
        calibrated: p.calibrated,
        qemuExpectedMs: outcome.policy === 'qemu' ? outcome.predictedBlackoutMs : undefined,
        naiveMs: ram !== undefined && ram.bandwidthBytesPerS > 0 ? (ram.remainingBytes / ram.bandwidthBytesPerS) * 1000 : undefined,
      });
    }
  }
  runs.sort((a, b) => (a.migrationId < b.migrationId ? -1 : a.migrationId > b.migrationId ? 1 : 0));
  const n = runs.length;
  const ours = summarize(runs.map((r) => absLog2Err(r.medianMs, r.actualMs)));
  const covered = runs.filter((r) => r.actualMs <= r.boundMs).length;
  return {
    n,
    alpha: opts.alpha,
    ours: {
      ...ours,
      coverage: n === 0 ? 0 : covered / n,
      meanBoundMs: n === 0 ? 0 : runs.reduce((s, r) => s + r.boundMs, 0) / n,
      calibratedShare: n === 0 ? 0 : runs.filter((r) => r.calibrated).length / n,
    },
    qemuExpected: summarize(runs.flatMap((r) => (r.qemuExpectedMs === undefined ? [] : [absLog2Err(r.qemuExpectedMs, r.actualMs)]))),
    naive: summarize(runs.flatMap((r) => (r.naiveMs === undefined ? [] : [absLog2Err(r.naiveMs, r.actualMs)]))),
    runs,
  };
}
