/**
 * QEMU's own VFIO migration trace events, as the "log" trace backend (Debian's QEMU) writes them
 * once switched on at run time (`trace-event-set-state`, the file set with the HMP `logfile`
 * command; `vfio-trace-switch.ts`). What they give that QMP does not: per device and per
 * pre-copy iteration, the sizes the VFIO uAPI reports (`hw/vfio/migration.c`):
 *
 * - `vfio_state_pending_exact (name) precopy P postcopy Q stopcopy size S precopy initial size I
 *   precopy dirty size D` — `vfio_state_pending_exact()`: S = `VFIO_DEVICE_FEATURE_MIG_DATA_SIZE`
 *   `stop_copy_length` (100 GiB, `VFIO_MIG_STOP_COPY_SIZE`, when the query failed), I and D =
 *   `VFIO_MIG_GET_PRECOPY_INFO` `initial_bytes`/`dirty_bytes` (0 outside PRE_COPY). P and Q are
 *   QEMU's running totals over every handler so far (RAM's among them), not this device's.
 * - `vfio_state_pending_estimate (name) precopy P postcopy Q precopy initial size I precopy dirty
 *   size D` — `vfio_state_pending_estimate()`: I and D as QEMU last read them, no stop-copy size.
 * - `vfio_migration_set_state (name) new state X, recover state Y` (9.1+) — emitted at the top of
 *   `vfio_migration_set_state()`, before the ioctl: the START of the arc into X (its end is the
 *   `VFIO_MIGRATION` event; `vfio-events.ts`).
 *
 * - `vmstate_downtime_checkpoint CHECKPOINT` (8.2+, `migration/trace-events`) — not a VFIO event:
 *   QEMU's marks inside the blackout. On the source `src-downtime-start` (before the vCPUs stop),
 *   `src-vm-stopped` (vCPUs stopped, devices in STOP_COPY), `src-iterable-saved` (RAM's last pass
 *   and every device's stop-copy data written), `src-non-iterable-saved`, `src-downtime-end`;
 *   the destination's begin `dst-`. `src-vm-stopped` → `src-iterable-saved` is the blackout's
 *   transfer timed apart from the rest of the blackout ({@link VfioTraceTracker.blackoutTransferMs}).
 *
 * Formats (`hw/vfio/trace-events`): sizes are `0x%"PRIx64` up to QEMU 8.x and `%"PRIu64` later;
 * both are read. The log backend (`scripts/tracetool/backend/log.py`) writes `name fmt` and,
 * with `-msg timestamp=on`, `TID@SEC.USEC:name fmt`; a line without its own time takes the time
 * it was read at. `name` is `vbasedev->name`: the host PCI address, or the mdev UUID of a
 * `sysfsdev=` device — not the `device-id` of `VFIO_MIGRATION`; `vfio-devices.ts` maps one to the other.
 */
import type { MigStateName } from '../fsm/index.js';
import type { SizeRecord } from '../records/records.js';

/** QEMU's downtime checkpoint trace event (8.2+; see the module comment). */
export const DOWNTIME_CHECKPOINT_EVENT = 'vmstate_downtime_checkpoint';

/**
 * The trace events `watch --vfio-trace` switches on (a `trace-event-set-state` pattern each):
 * the VFIO ones and QEMU's downtime checkpoints (a QEMU before 8.2 refuses that one; the watch
 * notes it and goes on).
 */
export const VFIO_TRACE_EVENTS: readonly string[] = ['vfio_state_pending_*', 'vfio_migration_set_state', 'vfio_save_*', 'vfio_load_*', DOWNTIME_CHECKPOINT_EVENT];

/** One parsed trace line. */
export type VfioTraceLine =
  | {
      readonly kind: 'pending';
      /** `exact` carries the stop-copy size; `estimate` does not. */
      readonly exact: boolean;
      readonly atMs: number;
      readonly name: string;
      readonly stopCopyBytes?: number;
      readonly initialBytes: number;
      readonly dirtyBytes: number;
    }
  | { readonly kind: 'set-state'; readonly atMs: number; readonly name: string; readonly to: MigStateName }
  /** A downtime checkpoint; `timed`: the line carried its own time (else `atMs` is when it was read). */
  | { readonly kind: 'checkpoint'; readonly atMs: number; readonly checkpoint: string; readonly timed: boolean }
  | { readonly kind: 'other'; readonly atMs: number; readonly name: string; readonly event: string };

/** A size: hex with `0x` (QEMU ≤ 8.x) or decimal. */
const NUM = '(0x[0-9a-fA-F]+|\\d+)';
/** `TID@SEC.USEC:` (log backend with `-msg timestamp=on`), then the event name and its text. */
const LINE = /^(?:\d+@(\d+)\.(\d{6}):)?(vfio_[a-z_]+) +\(([^)]*)\)(.*)$/;
const EXACT = new RegExp(`precopy ${NUM} postcopy ${NUM} stopcopy size ${NUM} precopy initial size ${NUM} precopy dirty size ${NUM}`);
const ESTIMATE = new RegExp(`precopy ${NUM} postcopy ${NUM} precopy initial size ${NUM} precopy dirty size ${NUM}`);
const SET_STATE = /new state ([A-Z0-9_]+)/;
/** `TID@SEC.USEC:vmstate_downtime_checkpoint NAME`. */
const CHECKPOINT = /^(?:\d+@(\d+)\.(\d{6}):)?vmstate_downtime_checkpoint +([a-z0-9-]+)$/;

/** QEMU's `mig_state_to_str()` names are the kernel's; `UNKNOWN STATE` is not one. */
const STATE_NAMES: ReadonlySet<string> = new Set(['STOP', 'RUNNING', 'STOP_COPY', 'RESUMING', 'RUNNING_P2P', 'PRE_COPY', 'PRE_COPY_P2P', 'ERROR']);

/** A line's own time (`SEC.USEC` of `-msg timestamp=on`) in epoch ms, else when it was read. */
function lineAtMs(sec: string | undefined, usec: string | undefined, readAtMs: number): number {
  return sec === undefined ? readAtMs : Number(sec) * 1000 + Number(usec) / 1000;
}

function size(s: string | undefined): number {
  return Number(s); // Number('0x1f') is 31; both forms are safe integers for any real device size
}

/**
 * Parses one trace log line; undefined for lines that are not VFIO trace events (the log file
 * may hold other QEMU messages). `readAtMs` (epoch ms) is used when the line has no time.
 */
export function parseVfioTraceLine(line: string, readAtMs: number): VfioTraceLine | undefined {
  const c = CHECKPOINT.exec(line.trim());
  if (c !== null) {
    const [, sec, usec, checkpoint = ''] = c;
    return { kind: 'checkpoint', atMs: lineAtMs(sec, usec, readAtMs), checkpoint, timed: sec !== undefined };
  }
  const m = LINE.exec(line.trim());
  if (m === null) return undefined;
  const [, sec, usec, event = '', name = '', rest = ''] = m;
  const atMs = lineAtMs(sec, usec, readAtMs);
  if (event === 'vfio_state_pending_exact') {
    const x = EXACT.exec(rest);
    if (x === null) return undefined;
    return { kind: 'pending', exact: true, atMs, name, stopCopyBytes: size(x[3]), initialBytes: size(x[4]), dirtyBytes: size(x[5]) };
  }
  if (event === 'vfio_state_pending_estimate') {
    const x = ESTIMATE.exec(rest);
    if (x === null) return undefined;
    return { kind: 'pending', exact: false, atMs, name, initialBytes: size(x[3]), dirtyBytes: size(x[4]) };
  }
  if (event === 'vfio_migration_set_state') {
    const to = SET_STATE.exec(rest)?.[1];
    if (to === undefined || !STATE_NAMES.has(to)) return undefined;
    return { kind: 'set-state', atMs, name, to: to as MigStateName };
  }
  return { kind: 'other', atMs, name, event };
}

/** A device's sizes as the trace last gave them. */
export interface VfioDeviceSizes {
  readonly atMs: number;
  /** Undefined until an `exact` line was seen. */
  readonly stopCopyBytes: number | undefined;
  readonly initialBytes: number;
  readonly dirtyBytes: number;
}

/**
 * Follows the trace of one QEMU: the latest sizes and the arc starts per device, and one `size`
 * record per `pending` line once a stop-copy size is known (an `estimate` line carries the last
 * exact stop-copy size: QEMU reads it only in `exact`). `deviceIdOf` maps a trace name to the
 * device id of the records (identity when unknown).
 */
export class VfioTraceTracker {
  private readonly sizes = new Map<string, VfioDeviceSizes>();
  private readonly starts = new Map<string, { to: MigStateName; atMs: number }[]>();
  private readonly stopCopyHistory = new Map<string, { atMs: number; bytes: number }[]>();
  /** The last timed `src-vm-stopped`, and the first timed `src-iterable-saved` after it. */
  private stoppedAtMs: number | undefined;
  private savedAtMs: number | undefined;

  constructor(private readonly deviceIdOf: (name: string) => string = (n) => n) {}

  /** Takes one parsed line; returns the `size` record it makes, if any (at the line's epoch time). */
  observe(t: VfioTraceLine, migrationId: string): SizeRecord | undefined {
    if (t.kind === 'checkpoint') {
      this.checkpoint(t);
      return undefined;
    }
    const id = this.deviceIdOf(t.name);
    if (t.kind === 'set-state') {
      const list = this.starts.get(id) ?? [];
      list.push({ to: t.to, atMs: t.atMs });
      this.starts.set(id, list);
      return undefined;
    }
    if (t.kind !== 'pending') return undefined;
    const stopCopyBytes = t.stopCopyBytes ?? this.sizes.get(id)?.stopCopyBytes;
    this.sizes.set(id, { atMs: t.atMs, stopCopyBytes, initialBytes: t.initialBytes, dirtyBytes: t.dirtyBytes });
    if (t.stopCopyBytes !== undefined) {
      const h = this.stopCopyHistory.get(id) ?? [];
      h.push({ atMs: t.atMs, bytes: t.stopCopyBytes });
      this.stopCopyHistory.set(id, h);
    }
    if (stopCopyBytes === undefined) return undefined;
    return {
      kind: 'size',
      migrationId,
      deviceId: id,
      atMs: t.atMs,
      stopCopyBytes,
      initialBytes: t.initialBytes,
      dirtyBytes: t.dirtyBytes,
    };
  }

  private checkpoint(c: Extract<VfioTraceLine, { kind: 'checkpoint' }>): void {
    if (!c.timed) return;
    if (c.checkpoint === 'src-vm-stopped') {
      this.stoppedAtMs = c.atMs;
      this.savedAtMs = undefined;
    } else if (c.checkpoint === 'src-iterable-saved' && this.stoppedAtMs !== undefined && this.savedAtMs === undefined && c.atMs >= this.stoppedAtMs) {
      this.savedAtMs = c.atMs;
    }
  }

  /**
   * The blackout's transfer as the source QEMU timed it, ms: from its last `src-vm-stopped`
   * checkpoint to the `src-iterable-saved` after it — RAM's last pass and the devices' stop-copy
   * data, apart from stopping the vCPUs and devices before it and the destination's load after.
   * Undefined without both checkpoints carrying their own times (QEMU before 8.2, no trace, a log
   * backend without `-msg timestamp=on`: a time of reading says nothing at this scale).
   */
  blackoutTransferMs(): number | undefined {
    return this.stoppedAtMs === undefined || this.savedAtMs === undefined ? undefined : this.savedAtMs - this.stoppedAtMs;
  }

  /** The device's latest sizes, if the trace gave any. */
  latest(deviceId: string): VfioDeviceSizes | undefined {
    return this.sizes.get(deviceId);
  }

  /** The stop-copy size known at `atMs` (the latest exact one not after it), or 0. */
  stopCopyBytesAt(deviceId: string, atMs: number): number {
    const h = this.stopCopyHistory.get(deviceId) ?? [];
    for (let i = h.length - 1; i >= 0; i--) {
      const s = h[i];
      if (s !== undefined && s.atMs <= atMs) return s.bytes;
    }
    return 0;
  }

  /** The latest traced start of an arc into `to` not after `endAtMs` (see `vfio-events.ts`). */
  startOf(deviceId: string, to: MigStateName, endAtMs: number): number | undefined {
    const list = this.starts.get(deviceId);
    if (list === undefined) return undefined;
    for (let i = list.length - 1; i >= 0; i--) {
      const s = list[i];
      if (s !== undefined && s.to === to && s.atMs <= endAtMs) return s.atMs;
    }
    return undefined;
  }
}
