/**
 * Which migrations the convergence chart shows, and their pre-copy rounds: the ones asked for,
 * else the worst outcomes that have RAM progress, else the migrations with the most passes.
 */
import { precopyRounds } from '../estimators/rounds.js';
import { mostPasses } from '../store/analysis.js';
import { ramProgress } from '../store/queries.js';
import type { Store } from '../store/store.js';
import type { MigrationRounds } from './charts/convergence.js';

/** Migrations drawn at most by default. */
export const CONVERGENCE_DEFAULT_MIGRATIONS = 4;

/** Rounds of each of `ids` that has at least `minRounds` pre-copy passes, up to `max` migrations. */
export function roundsOf(store: Store, ids: Iterable<string>, max: number, minRounds = 2): MigrationRounds[] {
  const out: MigrationRounds[] = [];
  const seen = new Set<string>();
  for (const id of ids) {
    if (out.length >= max) break;
    if (seen.has(id)) continue;
    seen.add(id);
    const rounds = precopyRounds(ramProgress(store, id));
    if (rounds.length >= minRounds) out.push({ migrationId: id, rounds });
  }
  return out;
}

/**
 * The chart's migrations: `requested` when given (those with RAM progress, any number of
 * passes), else up to {@link CONVERGENCE_DEFAULT_MIGRATIONS} of `worst` with ≥ 2 passes, else
 * — unless the report is `filtered`, when only the worst (filtered) outcomes qualify — the
 * migrations with the most passes.
 */
export function chooseConvergence(store: Store, requested: readonly string[] | undefined, worst: readonly string[], filtered: boolean): MigrationRounds[] {
  if (requested !== undefined && requested.length > 0) return roundsOf(store, requested, requested.length, 1);
  const fromWorst = roundsOf(store, worst, CONVERGENCE_DEFAULT_MIGRATIONS);
  if (fromWorst.length > 0 || filtered) return fromWorst;
  return roundsOf(store, mostPasses(store, CONVERGENCE_DEFAULT_MIGRATIONS), CONVERGENCE_DEFAULT_MIGRATIONS);
}
