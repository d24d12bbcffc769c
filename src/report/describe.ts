/** Words for what a table or page covers: the filter and the times, as a person reads them. */
import { MAX_TIME_MS } from '../telemetry/validate.js';
import type { AnalysisFilter } from '../store/analysis.js';

/** Store clocks above this are epoch ms (after 1973); below, a simulator's or a relative clock. */
const EPOCH_MS_FLOOR = 1e11;

/**
 * An epoch time as ISO-8601; a small clock value as `t = 1234 ms`; a value past the year 9999
 * (a bad stored record: `toISOString()` would throw "Invalid time value") as itself.
 */
export function timeText(ms: number): string {
  if (!(ms <= MAX_TIME_MS)) return `t = ${ms} ms (past the year 9999)`;
  return ms >= EPOCH_MS_FLOOR ? new Date(ms).toISOString() : `t = ${ms.toFixed(0)} ms`;
}

/** The filter's parts, `["device model mlx5-cx7", "since 2025-03-01T00:00:00.000Z"]`; empty for none. */
export function filterParts(f: AnalysisFilter): string[] {
  return [
    f.deviceModel === undefined ? '' : `device model ${f.deviceModel}`,
    f.arc === undefined ? '' : `arc ${f.arc}`,
    f.sinceMs === undefined ? '' : `since ${timeText(f.sinceMs)}`,
    f.policy === undefined ? '' : `policy ${f.policy}`,
    f.migrationPrefix === undefined ? '' : `migrations ${f.migrationPrefix}*`,
  ].filter((s) => s !== '');
}

/**
 * What to say when `filter` matched nothing: the filter and the span of the store's records
 * (`range` from `storeDateRange`), so a `--since` past the data, or data dated 1970, shows.
 */
export function nothingMatched(filter: AnalysisFilter, range: { readonly firstMs: number; readonly lastMs: number } | null): string {
  const parts = filterParts(filter);
  const what = parts.length === 0 ? 'the store holds no records' : `nothing matches ${parts.join(', ')}`;
  if (range === null) return parts.length === 0 ? what : `${what}: the store holds no records`;
  return `${what}; the store's records run from ${timeText(range.firstMs)} to ${timeText(range.lastMs)}`;
}
