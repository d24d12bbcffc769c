/**
 * Which stored migrations a fit uses, and the words for it. Simulated migrations (the demo's)
 * are left out unless asked for: a model for real hosts is fitted on real migrations, and every
 * fit says what went in (`vfio-sla fit`, the service's `fit`).
 */

/**
 * Every simulated migration's id starts with this (`demo/s<seed>/train/vm-0001`, see
 * `app/fleet-job.ts`): how a fit tells the simulator's migrations from real ones.
 */
export const SIMULATED_MIGRATION_PREFIX = 'demo/';

/** What to leave out of a fit. */
export interface FitSelection {
  /** Leave out migrations whose id starts with one of these. */
  readonly exclude: readonly string[];
  /** Fit on simulated migrations too. Default false. */
  readonly includeSimulated?: boolean;
}

/** Counts the migrations a fit kept and left out, once per id, as it asks {@link keep}. */
export class FitInput {
  private readonly seen = new Set<string>();
  real = 0;
  simulated = 0;
  excluded = 0;
  simulatedLeftOut = 0;

  constructor(private readonly selection: FitSelection) {}

  /** Whether migration `id` goes into the fit. */
  keep(id: string): boolean {
    const includeSimulated = this.selection.includeSimulated ?? false;
    const simulated = id.startsWith(SIMULATED_MIGRATION_PREFIX);
    const kept = !this.selection.exclude.some((p) => id.startsWith(p)) && (includeSimulated || !simulated);
    if (!this.seen.has(id)) {
      this.seen.add(id);
      if (kept) simulated ? this.simulated++ : this.real++;
      else if (simulated && !includeSimulated) this.simulatedLeftOut++;
      else this.excluded++;
    }
    return kept;
  }

  /** `312 migrations (212 real, 100 simulated); left out: 1,500 simulated (...), 40 by --exclude Postcopy*`. */
  describe(): string {
    const n = (x: number): string => x.toLocaleString('en-US');
    const left = [
      this.simulatedLeftOut > 0 ? `${n(this.simulatedLeftOut)} simulated (--include-simulated to use them)` : '',
      this.excluded > 0 ? `${n(this.excluded)} by --exclude ${this.selection.exclude.map((p) => `${p}*`).join(' ')}` : '',
    ].filter((s) => s !== '');
    return `${n(this.real + this.simulated)} migrations (${n(this.real)} real, ${n(this.simulated)} simulated)${left.length > 0 ? `; left out: ${left.join(', ')}` : ''}`;
  }
}
