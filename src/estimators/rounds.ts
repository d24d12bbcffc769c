/**
 * Pre-copy rounds from RAM progress: per pass (QEMU `dirty-sync-count`), the dirty rate, the
 * pre-copy bandwidth and the convergence ratio ρ = dirty rate / bandwidth (the AVG model of
 * Akoush et al., MASCOTS 2010; published-numbers.md §2, §9.4), and how much the pending bytes
 * actually shrank into the next round — so a governor or a report can see whether waiting
 * helps (ρ < 1) or not (ρ ≥ 1 for several rounds: Precopy_Nonconvergent, Clark's MMuncher).
 */
import type { RamRecord } from '../records/records.js';
import { convergenceRatio } from './precopy.js';
import { median } from './robust.js';

/** One pre-copy round as the polls saw it. */
export interface PrecopyRound {
  readonly pass: number;
  /** Time of the round's first poll, ms. */
  readonly startedAtMs: number;
  readonly polls: number;
  /** Pending RAM at the round's first poll, bytes. */
  readonly remainingBytes: number;
  /** Median over the round's polls, bytes/s. */
  readonly dirtyBytesPerS: number;
  /** Median over the round's polls (the throttled pre-copy rate), bytes/s. */
  readonly bandwidthBytesPerS: number;
  /** ρ = dirty / bandwidth: the AVG model's predicted shrink factor per round. */
  readonly rho: number;
  /** Pending bytes at the next round's first poll ÷ at this one's; undefined for the last round. */
  readonly observedShrink: number | undefined;
}

/** Rounds of one migration's `ram` records (any order); polls are grouped by `pass`. */
export function precopyRounds(ram: readonly RamRecord[]): PrecopyRound[] {
  const sorted = [...ram].sort((a, b) => a.atMs - b.atMs);
  const groups: RamRecord[][] = [];
  for (const r of sorted) {
    const last = groups[groups.length - 1];
    if (last !== undefined && (last[0] as RamRecord).pass === r.pass) last.push(r);
    else groups.push([r]);
  }
  return groups.map((g, i) => {
    const first = g[0] as RamRecord;
    const dirtyBytesPerS = median(g.map((r) => r.dirtyBytesPerS));
    const bandwidthBytesPerS = median(g.map((r) => r.bandwidthBytesPerS));
    const next = groups[i + 1]?.[0];
    return {
      pass: first.pass,
      startedAtMs: first.atMs,
      polls: g.length,
      remainingBytes: first.remainingBytes,
      dirtyBytesPerS,
      bandwidthBytesPerS,
      rho: convergenceRatio(dirtyBytesPerS, bandwidthBytesPerS),
      observedShrink: next === undefined || first.remainingBytes <= 0 ? undefined : next.remainingBytes / first.remainingBytes,
    };
  });
}
