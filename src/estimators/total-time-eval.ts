/**
 * Honest evaluation of the time-to-completion bound ({@link precopyTimeBoundMs}) by
 * cross-validation over migrations, as `cross-validate.ts` does for the blackout: every pre-copy
 * poll of a migration is predicted with scores from the other migrations only.
 */
import { quantileSorted, sortedCopy } from './robust.js';
import { precopyTimeBoundMs, precopyTimeModel, precopyTimePoints, type PrecopyTimePoint } from './total-time.js';
import { categoryOf, foldsOf, type EvalCase, type EvalFolds } from './cross-validate.js';

export interface TotalTimeEvalReport extends TotalTimeSummary {
  readonly alpha: number;
  /**
   * The same figures per category (the migration id's first path segment: the dataset's
   * scenario), sorted by name: a pooled median error mixes runs that converge on their own with
   * runs that end only when their workload changes.
   */
  readonly byCategory: readonly ({ readonly category: string } & TotalTimeSummary)[];
}

/** Held-out figures of a group of migrations. */
export interface TotalTimeSummary {
  /** Migrations with scored polls, and the polls. */
  readonly migrations: number;
  readonly polls: number;
  /** Share of polls whose actual time to completion ≤ the 1 − α bound (an infinite bound covers). */
  readonly coverage: number;
  /** The same, each migration weighted equally (long non-converging runs have many more polls). */
  readonly coveragePerMigration: number;
  /** Share of polls the projection calls non-converging (ρ ≥ 1, or passes levelled off above the switchover size: no finite median or bound). */
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
  const all = new Tally();
  const byCategory = new Map<string, Tally>();
  for (let fold = 0; fold < k; fold++) {
    const train: PrecopyTimePoint[] = [];
    byMigration.forEach((pts, i) => {
      if (foldOf(i) !== fold) for (const p of pts) train.push(p);
    });
    const scores = precopyTimeModel(train).logRatioScores;
    byMigration.forEach((pts, i) => {
      if (foldOf(i) !== fold) return;
      const category = categoryOf(pts[0]!.migrationId);
      let tally = byCategory.get(category);
      if (tally === undefined) byCategory.set(category, (tally = new Tally()));
      let migCovered = 0;
      for (const p of pts) {
        const bound = precopyTimeBoundMs(p.projectedMs, scores, alpha) ?? Infinity;
        const ok = p.actualMs <= bound;
        if (ok) migCovered++;
        all.poll(p, bound, ok);
        tally.poll(p, bound, ok);
      }
      all.migration(migCovered / pts.length);
      tally.migration(migCovered / pts.length);
    });
  }
  return {
    alpha,
    ...all.summary(),
    byCategory: [...byCategory].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([category, t]) => ({ category, ...t.summary() })),
  };
}

/** Counts of one group of held-out polls. */
class Tally {
  private polls = 0;
  private covered = 0;
  private nonConverging = 0;
  private migrations = 0;
  private perMigration = 0;
  private readonly errs: number[] = [];
  private readonly ratios: number[] = [];

  poll(p: PrecopyTimePoint, bound: number, covered: boolean): void {
    this.polls++;
    if (covered) this.covered++;
    if (p.projectedMs === Infinity) {
      this.nonConverging++;
      return;
    }
    this.errs.push(Math.abs(Math.log2(Math.max(1e-3, p.projectedMs) / Math.max(1e-3, p.actualMs))));
    this.ratios.push(bound / Math.max(1e-3, p.actualMs));
  }

  migration(coveredShare: number): void {
    this.migrations++;
    this.perMigration += coveredShare;
  }

  summary(): TotalTimeSummary {
    const e = sortedCopy(this.errs);
    const r = sortedCopy(this.ratios);
    return {
      migrations: this.migrations,
      polls: this.polls,
      coverage: this.polls === 0 ? NaN : this.covered / this.polls,
      coveragePerMigration: this.migrations === 0 ? NaN : this.perMigration / this.migrations,
      nonConvergingShare: this.polls === 0 ? NaN : this.nonConverging / this.polls,
      medianAbsLog2Err: e.length === 0 ? NaN : quantileSorted(e, 0.5),
      p90AbsLog2Err: e.length === 0 ? NaN : quantileSorted(e, 0.9),
      medianBoundOverActual: r.length === 0 ? NaN : quantileSorted(r, 0.5),
    };
  }
}
