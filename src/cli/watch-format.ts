/**
 * The watch timeline as text for people: one line per entry, polls and decisions thinned to
 * a line per change of status, decision or reason and one per second otherwise (the JSON form
 * keeps every entry). Times are `+s.sss` since `watch` attached; sizes binary, as QEMU prints.
 */
import { formatBytes, formatDuration, formatRate } from './units.js';
import type { DecisionEntry, PollEntry, WatchEntry } from '../app/watch/watch-types.js';
import type { ThrottleLeverStep } from '../app/watch/watch-throttle.js';
import type { Decision } from '../governor/types.js';

/** Longest gap between two printed poll lines while nothing changes, ms. */
const QUIET_LINE_INTERVAL_MS = 1000;

const NOT_DECIDED: Readonly<Record<PollEntry['reason'], string>> = {
  NOT_PRECOPY: 'not pre-copy',
  NO_STATISTICS: 'no RAM statistics',
  DIRTY_RATE_UNMEASURED: 'not decided: QEMU has not measured the dirty rate yet',
  COMMITTED: 'committed, waiting for QEMU to switch over',
};

function at(tMs: number): string {
  return `+${(tMs / 1000).toFixed(3).padStart(8)} s`;
}

function figures(e: PollEntry | DecisionEntry): string {
  const parts = [`${e.status}${e.pass === null ? '' : ` pass ${e.pass}`}${e.remainingBytes === null ? '' : ':'}`];
  if (e.remainingBytes !== null) parts.push(`remaining ${formatBytes(e.remainingBytes)},`);
  if (e.dirtyBytesPerS !== null) parts.push(`dirty ${formatRate(e.dirtyBytesPerS)},`);
  if (e.bandwidthBytesPerS !== null) parts.push(`bandwidth ${formatRate(e.bandwidthBytesPerS)}`);
  if (e.cpuThrottlePercent !== null) parts.push(`(throttled ${e.cpuThrottlePercent} %)`);
  return parts.join(' ');
}

function decisionText(e: DecisionEntry): string {
  const d = e.decision;
  const head = `${figures(e)}, rho ${d.rho.toFixed(2)} — ${d.action} ${d.reason}`;
  const bound = Number.isNaN(d.predictedBlackoutMs)
    ? ''
    : `: bound ${formatDuration(d.predictedBlackoutMs)} (median ${formatDuration(d.medianBlackoutMs)}) ${limitText(d)}`;
  const advice = d.throttle === null ? '' : `; dirty rate to reach: ${formatRate(d.throttle.maxDirtyBytesPerS)}`;
  return `${head}${bound}${plateauText(d)}${advice}${totalText(d)}${e.acted ? ' [acting]' : ''}`;
}

/** QEMU's passes stopped shrinking (`Decision.precopyPlateauBytes`); above the target it is why waiting will not do. */
function plateauText(d: Decision): string {
  if (d.precopyPlateauBytes === null) return '';
  const why = d.reason === 'NOT_CONVERGING' ? ': not converging on its own' : '';
  return `; passes level off at ${formatBytes(d.precopyPlateauBytes)}${why}`;
}

/** Time to completion from now: median, and the bound when it is finite. */
function totalText(d: Decision): string {
  if (Number.isNaN(d.medianTotalMs)) return '';
  const bound = Number.isFinite(d.predictedTotalMs) ? `, bound ${formatDuration(d.predictedTotalMs)}` : ', unbounded (no budget)';
  return `; done in ${formatDuration(d.medianTotalMs)}${bound}`;
}

/** The bound against the limit that binds: the deadline, or the guest timeout when it is lower. */
function limitText(d: Decision): string {
  const guest = d.bindingLimit === 'guest-timeout' && d.guestTimeoutMs !== null;
  const limitMs = guest ? (d.guestTimeoutMs as number) : d.deadlineMs;
  return `${d.predictedBlackoutMs <= limitMs ? '≤' : '>'} ${guest ? 'guest timeout ' : ''}${formatDuration(limitMs)}`;
}

function throttleText(s: ThrottleLeverStep): string {
  const what =
    s.mechanism === 'dirty-limit'
      ? s.action === 'throttle'
        ? `set-vcpu-dirty-limit ${s.perVcpuMiBps ?? '?'} MiB/s on each of ${s.vcpus ?? '?'} vCPUs`
        : 'cancel-vcpu-dirty-limit'
      : s.mechanism === 'auto-converge'
        ? s.action === 'throttle'
          ? `auto-converge aimed at ${s.cpuThrottlePercent ?? '?'} % (throttle-trigger-threshold 1 %)`
          : 'auto-converge trigger back to 100 %'
        : 'no lever to apply it';
  return `throttle ${s.action}: ${what}${s.why === undefined ? '' : ` (${s.why})`}`;
}

/** Turns timeline entries into text lines; keeps the state that thins poll lines. */
export class WatchTextFormat {
  private lastKey = '';
  private lastPrintedMs = Number.NEGATIVE_INFINITY;

  /** The lines for `entry` (none for a poll that changed nothing within a second). */
  format(entry: WatchEntry): string[] {
    switch (entry.type) {
      case 'attach':
        return [
          `watch: attached to ${entry.endpoint} (QEMU ${entry.qemuVersion}); migration id ${entry.migrationId}; ` +
            `events ${entry.events}; downtime-limit ${entry.downtimeLimitMs} ms` +
            (entry.runningStatus === null ? '; waiting for a migration' : `; migration already ${entry.runningStatus}`) +
            (entry.drive ? `; drive on (throttle: ${entry.throttle ?? 'none'})` : '; advice only (no --drive)'),
        ];
      case 'note':
        return [`${at(entry.tMs)}  note: ${entry.message}`];
      case 'event': {
        const data = Object.keys(entry.data).length === 0 ? '' : ` ${JSON.stringify(entry.data)}`;
        return [`${at(entry.tMs)}  event ${entry.event}${data}`];
      }
      case 'poll':
      case 'decision':
        return this.pollLine(entry);
      case 'limit':
        return [`${at(entry.tMs)}  limit ${entry.action}: downtime-limit ${entry.change.previousMs} → ${entry.change.downtimeLimitMs} ms` +
          (entry.change.switchoverBandwidthBytesPerS === undefined ? '' : `, avail-switchover-bandwidth ${entry.change.switchoverBandwidthBytesPerS} B/s`)];
      case 'throttle':
        return [`${at(entry.tMs)}  ${throttleText(entry.step)}`];
      case 'cancel':
        return [`${at(entry.tMs)}  migrate_cancel: ${entry.reason}`];
      case 'end': {
        const r = entry.result;
        return [`${r.message}; sent ${r.records.ram} ram, ${r.records.transfer} transfer, ${r.records.outcome} outcome, ${r.records.attempt} attempt record(s) to the store`];
      }
    }
  }

  private pollLine(e: PollEntry | DecisionEntry): string[] {
    const key = e.type === 'decision' ? `${e.status} ${e.decision.action} ${e.decision.reason} ${e.acted}` : `${e.status} ${e.reason}`;
    if (key === this.lastKey && e.tMs - this.lastPrintedMs < QUIET_LINE_INTERVAL_MS) return [];
    this.lastKey = key;
    this.lastPrintedMs = e.tMs;
    return [`${at(e.tMs)}  ${e.type === 'decision' ? decisionText(e) : `${figures(e)} — ${NOT_DECIDED[e.reason]}`}`];
  }
}
