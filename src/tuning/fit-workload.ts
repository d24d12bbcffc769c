/**
 * A pre-copy workload fitted from recorded migrations (`ram` telemetry records, as the QMP
 * importer or the wrapper write them), so the tuner can answer "what should this VM have been
 * given?" from what QEMU reported (`query-migrate`: `dirty-sync-count`, `remaining`,
 * `dirty-pages-rate`, `mbps`; ST §2.1):
 *
 * - bandwidth: median `mbps` over the polls;
 * - first pass: from the first poll to the first poll of pass 2 (midpoint between the polls on
 *   either side of the sync, plus one poll interval for the time before the first poll), as
 *   bytes at that bandwidth — zero pages make it much shorter than RAM ÷ bandwidth;
 * - dirty rate: median `dirty-pages-rate` × page size over passes ≥ 3. QEMU's first measurement
 *   spans the long first pass, where pages written several times count once (PN §3.1: a longer
 *   window reads lower), so it is left out: the short-pass rate is what later rounds see;
 * - writable working set: the pending RAM when pass 2 began, if the dirty rate times the first
 *   pass's duration clearly exceeds it (dirtying saturated); otherwise unknown.
 *
 * Several migrations of one workload: the median of each figure.
 */
// simple-statistics' max loops: a spread Math.max(...rates) overflows the stack past ~100k vCPUs.
import { max } from 'simple-statistics';
import { median } from '../estimators/robust.js';
import type { RamRecord } from '../records/records.js';
import { TuningError } from './errors.js';
import type { PrecopyWorkload } from './types.js';

/** Dirtying during the first pass must exceed the pass-2 pending by this factor to call it saturated. */
const SATURATION_FACTOR = 1.2;

/** A fitted workload and what it was fitted from. */
export interface FittedWorkload extends PrecopyWorkload {
  readonly firstPassBytes: number;
  /** Migrations used. */
  readonly migrations: number;
  /** First pass duration, ms (median). */
  readonly firstPassMs: number;
  /** RAM pending when pass 2 began, bytes (median). */
  readonly secondPassBytes: number;
}

interface OneFit {
  readonly bandwidth: number;
  readonly firstPassMs: number;
  readonly secondPassBytes: number;
  readonly dirty: number;
  readonly maxRemaining: number;
}

function fitOne(ram: readonly RamRecord[]): OneFit {
  const polls = [...ram].sort((a, b) => a.atMs - b.atMs);
  const id = polls[0]?.migrationId ?? '?';
  const two = polls.findIndex((r) => r.pass >= 2);
  if (two <= 0) throw new TuningError('E_NO_WORKLOAD_DATA', `migration ${id}: no poll in the first pass and the second (${polls.length} polls)`);
  const bws = polls.map((r) => r.bandwidthBytesPerS).filter((b) => b > 0);
  if (bws.length === 0) throw new TuningError('E_NO_WORKLOAD_DATA', `migration ${id}: no poll with a bandwidth`);
  const bandwidth = median(bws);
  const gaps: number[] = [];
  for (let i = 1; i < polls.length; i++) gaps.push(polls[i]!.atMs - polls[i - 1]!.atMs);
  const interval = median(gaps);
  const first = polls[0]!;
  const before = polls[two - 1]!;
  const after = polls[two]!;
  const syncMs = (before.atMs + after.atMs) / 2;
  const firstPassMs = syncMs - (first.atMs - interval);
  const secondPassBytes = after.remainingBytes + (bandwidth * (after.atMs - syncMs)) / 1000;
  let rates = polls.filter((r) => r.pass >= 3 && r.dirtyBytesPerS > 0).map((r) => r.dirtyBytesPerS);
  if (rates.length === 0) rates = polls.filter((r) => r.pass >= 2 && r.dirtyBytesPerS > 0).map((r) => r.dirtyBytesPerS);
  if (rates.length === 0) throw new TuningError('E_NO_WORKLOAD_DATA', `migration ${id}: no dirty rate measured`);
  return { bandwidth, firstPassMs, secondPassBytes, dirty: median(rates), maxRemaining: polls.length === 0 ? -Infinity : max(polls.map((r) => r.remainingBytes)) };
}

/**
 * Fits one workload from the `ram` records of one or more migrations of it. `ramBytes` (QEMU
 * `ram.total`) is best given: without it the largest `remaining` seen stands in, which misses
 * what the first poll had already scanned.
 */
export function fitWorkload(migrations: readonly (readonly RamRecord[])[], options: { readonly ramBytes?: number } = {}): FittedWorkload {
  if (migrations.length === 0) throw new TuningError('E_NO_WORKLOAD_DATA', 'no migrations to fit a workload from');
  const fits = migrations.map(fitOne);
  const bandwidthBytesPerS = median(fits.map((f) => f.bandwidth));
  const firstPassMs = median(fits.map((f) => f.firstPassMs));
  const secondPassBytes = median(fits.map((f) => f.secondPassBytes));
  const dirtyBytesPerS = median(fits.map((f) => f.dirty));
  const ramBytes = options.ramBytes ?? median(fits.map((f) => f.maxRemaining));
  const saturated = (dirtyBytesPerS * firstPassMs) / 1000 > SATURATION_FACTOR * secondPassBytes;
  return {
    ramBytes,
    dirtyBytesPerS,
    bandwidthBytesPerS,
    firstPassBytes: Math.min(ramBytes, (bandwidthBytesPerS * firstPassMs) / 1000),
    ...(saturated ? { wwsBytes: secondPassBytes } : {}),
    migrations: fits.length,
    firstPassMs,
    secondPassBytes,
  };
}
