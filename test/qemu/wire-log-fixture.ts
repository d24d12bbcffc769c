/**
 * Test fixture generator: converts a poll array (form 2, as in the dataset) into a QMP wire
 * log (form 1) as a QMP client would have recorded it — greeting, capabilities reply,
 * `query-migrate-parameters` reply, `MIGRATION`/`MIGRATION_PASS`/`STOP` events with QMP
 * timestamps, and `query-migrate` replies with a top-level `ts`.
 */
interface ArrayPoll {
  t_monotonic?: number;
  ts?: number;
  query_migrate: Record<string, unknown>;
}

/** Epoch seconds added to the monotonic clock of the array form. */
const EPOCH_OFFSET_S = 1_784_000_000;

function qmpTimestamp(tS: number): { seconds: number; microseconds: number } {
  const seconds = Math.floor(tS);
  return { seconds, microseconds: Math.round((tS - seconds) * 1e6) };
}

export interface WireLogOptions {
  /** Emit a `query-migrate-parameters` reply with this `downtime-limit`. */
  readonly downtimeLimitMs?: number;
}

/** Wire-log lines (no trailing newline) for one poll array. */
export function pollArrayToWireLog(polls: readonly ArrayPoll[], opts: WireLogOptions = {}): string[] {
  const sorted = [...polls].sort((a, b) => (a.t_monotonic ?? a.ts ?? 0) - (b.t_monotonic ?? b.ts ?? 0));
  const lines: string[] = [JSON.stringify({ QMP: { version: { qemu: { major: 9, minor: 0, micro: 0 } }, capabilities: [] } })];
  lines.push(JSON.stringify({ return: {} }));
  const t0 = (sorted[0]?.t_monotonic ?? sorted[0]?.ts ?? 0) + EPOCH_OFFSET_S;
  if (opts.downtimeLimitMs !== undefined) {
    lines.push(JSON.stringify({ return: { 'downtime-limit': opts.downtimeLimitMs, 'max-bandwidth': 134217728 } }));
  }
  lines.push(JSON.stringify({ event: 'MIGRATION', data: { status: 'setup' }, timestamp: qmpTimestamp(t0 - 0.01) }));
  let pass = 0;
  let status = 'setup';
  for (const p of sorted) {
    const t = (p.t_monotonic ?? p.ts ?? 0) + EPOCH_OFFSET_S;
    const q = p.query_migrate;
    const st = typeof q['status'] === 'string' ? q['status'] : undefined;
    const ram = q['ram'] as Record<string, number> | undefined;
    if (st !== undefined && st !== status) {
      if (st === 'device' || (st === 'completed' && status === 'active')) {
        lines.push(JSON.stringify({ event: 'STOP', timestamp: qmpTimestamp(t - 0.002) }));
      }
      lines.push(JSON.stringify({ event: 'MIGRATION', data: { status: st }, timestamp: qmpTimestamp(t - 0.001) }));
      status = st;
    }
    const sync = ram?.['dirty-sync-count'];
    if (sync !== undefined && sync > pass) {
      pass = sync;
      lines.push(JSON.stringify({ event: 'MIGRATION_PASS', data: { pass }, timestamp: qmpTimestamp(t - 0.0005) }));
    }
    lines.push(JSON.stringify({ return: q, ts: t }));
  }
  return lines;
}
