/**
 * A pre-copy that has stopped shrinking. Clark et al. (NSDI 2005, published-numbers.md §1): the
 * *writable working set* — pages a workload rewrites so often that every pass finds them dirty
 * again — sets how small the last round can get. Once the passes have shrunk to it, each pass
 * starts with about the same bytes whatever its length, so the round-by-round AVG projection
 * (`precopy.ts`: each round ρ× the last) wrongly keeps shrinking them. When the pass starts have
 * levelled off above QEMU's switchover size, pre-copy does not converge on its own: it ends when
 * the workload changes (the shared dataset's non-converging runs sat on such a plateau until
 * their benchmark stopped), which no projection of the current rates foresees.
 *
 * The test reads QEMU's own passes: the bytes pending at the start of each pass after the first
 * (`ram.remaining` at the first poll of each `dirty-sync-count`). Pure, no clock.
 */
import { median } from './robust.js';

/**
 * Pass starts the test looks at, the latest half against the half before (choice: 3 + 3, the
 * fewest for a median of each half that one odd pass does not move).
 */
export const PLATEAU_PASSES = 6;

/**
 * Pass starts a VMM's snapshot keeps ({@link keepPassStart}): the test reads {@link PLATEAU_PASSES};
 * a few more cost nothing.
 */
export const KEPT_PASS_STARTS = 2 * PLATEAU_PASSES;

/** `starts` with one more pass start, the oldest dropped past {@link KEPT_PASS_STARTS}: a new array. */
export function keepPassStart(starts: readonly number[], bytes: number): readonly number[] {
  return [...starts.slice(1 - KEPT_PASS_STARTS), bytes];
}

/**
 * The latest half's median at or above this share of the earlier half's: no longer shrinking
 * (choice: a geometric shrink by ρ ≤ 0.93 per pass moves three passes' median by ≤ 0.8; a
 * plateau's passes scatter ±20 % around their level).
 */
export const PLATEAU_MIN_RATIO = 0.8;

/**
 * The level pre-copy has stalled at, bytes — the least of the last {@link PLATEAU_PASSES} pass
 * starts, what a pass can at best come down to — or `undefined` while it still shrinks (or has
 * run too few passes to tell). `passStartBytes`: pending bytes at the start of each pass after
 * the first, oldest first.
 */
export function precopyPlateauBytes(passStartBytes: readonly number[]): number | undefined {
  const n = passStartBytes.length;
  if (n < PLATEAU_PASSES) return undefined;
  const half = PLATEAU_PASSES / 2;
  const earlier = passStartBytes.slice(n - PLATEAU_PASSES, n - half);
  const latest = passStartBytes.slice(n - half);
  if (median(latest) < PLATEAU_MIN_RATIO * median(earlier)) return undefined;
  return Math.min(...earlier, ...latest);
}
