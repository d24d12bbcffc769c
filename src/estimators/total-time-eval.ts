/**
 * Honest evaluation of the time-to-completion bound ({@link precopyTimeBoundMs}) by
 * cross-validation over migrations, as `cross-validate.ts` does for the blackout: every pre-copy
 * poll of a migration is predicted with scores from the other migrations only.
 */
import { quantileSorted, sortedCopy } from './robust.js';
import { precopyTimeBoundMs, precopyTimeModel, precopyTimePoints, type PrecopyTimePoint } from './total-time.js';
import { foldsOf, type EvalCase, type EvalFolds } from './cross-validate.js';

export interface TotalTimeEvalReport {
  readonly alpha: number;
  /** Migrations with scored polls, and the polls. */
  readonly migrations: number;
  readonly polls: number;
  /** Share of polls whose actual time to completion ≤ the 1 − α bound (an infinite bound covers). */
  readonly coverage: number;
  /** The same, each migration weighted equally (long non-converging runs have many more polls). */
  readonly coveragePerMigration: number;
  /** Share of polls the AVG projection calls non-converging (ρ ≥ 1: no finite median or bound). */
  readonly nonConvergingShare: number;
  /** Over polls projected to converge: median and p90 of |log2(projected / actual)|. */
  readonly medianAbsLog2Err: number;
  readonly p90AbsLog2Err: number;
  /** Over polls projected to converge: median of bound / actual. */
  readonly medianBoundOverActual: number;
}

/** How migrations are split into folds (`cross-validate.ts`'s {@link EvalFolds}). */
export type TotalTimeFolds = EvalFolds;

/** Cross-validates over folds of migrations (see {@link TotalTimeFolds}). */
export function crossValidateTotalTime(cases: readonly EvalCase[], alpha: number, folds: TotalTimeFolds = 'loo'): TotalTimeEvalReport {
  return crossValidatePrecopyPoints(cases.map((c) => precopyTimePoints(c.migrationId, c.records)), alpha, folds);
}

/** {@link crossValidateTotalTime} of scored polls already grouped by migration. */
export function crossValidatePrecopyPoints(points: readonly (readonly PrecopyTimePoint[])[], alpha: number, folds: TotalTimeFolds = 'loo'): TotalTimeEvalReport {
  const byMigration = points.filter((p) => p.length > 0);
  const { k, fold: foldOfMigration } = foldsOf(byMigration.map((pts) => pts[0]!.migrationId), folds);
  const foldOf = (i: number): number => foldOfMigration[i]!;
  let polls = 0;
  let covered = 0;
  let nonConverging = 0;
  let perMigration = 0;
  const errs: number[] = [];
  const ratios: number[] = [];
  for (let fold = 0; fold < k; fold++) {
    const train: PrecopyTimePoint[] = [];
    byMigration.forEach((pts, i) => {
      if (foldOf(i) !== fold) for (const p of pts) train.push(p);
    });
    const scores = precopyTimeModel(train).logRatioScores;
    byMigration.forEach((pts, i) => {
      if (foldOf(i) !== fold) return;
      let migCovered = 0;
      for (const p of pts) {
        const bound = precopyTimeBoundMs(p.projectedMs, scores, alpha) ?? Infinity;
        polls++;
        if (p.actualMs <= bound) {
          covered++;
          migCovered++;
        }
        if (p.projectedMs === Infinity) {
          nonConverging++;
          continue;
        }
        errs.push(Math.abs(Math.log2(Math.max(1e-3, p.projectedMs) / Math.max(1e-3, p.actualMs))));
        ratios.push(bound / Math.max(1e-3, p.actualMs));
      }
      perMigration += migCovered / pts.length;
    });
  }
  const e = sortedCopy(errs);
  const r = sortedCopy(ratios);
  return {
    alpha,
    migrations: byMigration.length,
    polls,
    coverage: polls === 0 ? NaN : covered / polls,
    coveragePerMigration: byMigration.length === 0 ? NaN : perMigration / byMigration.length,
    nonConvergingShare: polls === 0 ? NaN : nonConverging / polls,
    medianAbsLog2Err: e.length === 0 ? NaN : quantileSorted(e, 0.5),
    p90AbsLog2Err: e.length === 0 ? NaN : quantileSorted(e, 0.9),
    medianBoundOverActual: r.length === 0 ? NaN : quantileSorted(r, 0.5),
  };
}
