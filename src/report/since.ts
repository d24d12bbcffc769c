/**
 * Times people type for `--since`: an ISO-8601 date or date-time (UTC unless it names a zone),
 * epoch milliseconds, or a duration back from now (`90m`, `36h`, `7d`, `2w`).
 */
import { ReportError } from './errors.js';

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** The time `text` names, ms since the epoch; `nowMs` anchors durations. Throws `E_BAD_FILTER`. */
export function parseTimeSpec(text: string, nowMs: number): number {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t);
  const rel = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/.exec(t);
  if (rel !== null) return nowMs - Number(rel[1]) * (UNIT_MS[rel[2] as string] as number);
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/.test(t)) {
    const hasTime = t.length > 10;
    const hasZone = /(Z|[+-]\d{2}:?\d{2})$/.test(t.slice(10));
    const ms = Date.parse(hasTime && !hasZone ? `${t.replace(' ', 'T')}Z` : t.replace(' ', 'T'));
    if (Number.isFinite(ms)) return ms;
  }
  throw new ReportError(
    'E_BAD_FILTER',
    `not a time: '${text}' (use an ISO date like 2025-03-01 or 2025-03-01T12:00Z, epoch ms, or a duration back from now like 36h or 7d)`,
  );
}
