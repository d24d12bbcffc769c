/**
 * QEMU's `VFIO_MIGRATION` events (9.1+, per device with `-device vfio-pci,…,migration-events=on`)
 * as device arcs. The event (`qapi/vfio.json`) carries `device-id`, `qom-path` and the new
 * `device-state` only; QEMU sends it from `vfio_migration_set_device_state()`
 * (`hw/vfio/migration.c`) after the `VFIO_DEVICE_FEATURE` ioctl succeeded, so its timestamp is
 * the arc's END. The previous state is not sent: it is the state of the device's previous event,
 * and before the first one QEMU's own starting state, `RUNNING` (`vfio_migration_init()` sets
 * `migration->device_state = VFIO_DEVICE_STATE_RUNNING`).
 *
 * An arc's START is known in two cases:
 * - QEMU's `vfio_migration_set_state` trace event (9.1+) is on: it is emitted at the top of
 *   `vfio_migration_set_state()`, before the ioctl (`hw/vfio/trace-events`: "(%s) new state %s,
 *   recover state %s"), see `vfio-trace.ts`;
 * - QEMU issues the arc right after the device's previous one in the same step, with nothing in
 *   between but the other devices' callbacks: the second arc of a `vm_state_notify()` pair
 *   (`prepare_cb` then `cb`, `vfio_vmstate_change_prepare()` then `vfio_vmstate_change()`), i.e.
 *   `PRE_COPY_P2P → STOP_COPY`, `RUNNING_P2P → STOP_COPY|STOP|RUNNING` — its start is the end of
 *   the first ({@link BACK_TO_BACK_ARCS}).
 * Any other arc (the first of a step: `RUNNING → PRE_COPY` in save setup, `PRE_COPY →
 * PRE_COPY_P2P` when the vCPUs stop, `STOP_COPY → STOP` in cleanup, `RUNNING → RESUMING` in load
 * setup) has no known start without the trace: the time since the previous event is how long the
 * device sat in a state, not how long the arc took, and fitting it as a latency would poison the
 * model. Such arcs are counted ({@link VfioArcs.untimed}), not recorded.
 */
import type { MigStateName } from '../fsm/index.js';
import type { ArcRecord } from '../records/records.js';
import type { QmpEvent } from './qmp-types.js';

/**
 * `QapiVfioMigrationState` (`qapi/vfio.json`, 9.1) → the kernel's state. `pre-copy-p2p-prepare`
 * (11.0) is not a device state but a notice that the device is about to move: it makes no arc.
 */
export const QAPI_VFIO_STATES: Readonly<Record<string, MigStateName | 'prepare'>> = {
  stop: 'STOP',
  running: 'RUNNING',
  'stop-copy': 'STOP_COPY',
  resuming: 'RESUMING',
  'running-p2p': 'RUNNING_P2P',
  'pre-copy': 'PRE_COPY',
  'pre-copy-p2p': 'PRE_COPY_P2P',
  'pre-copy-p2p-prepare': 'prepare',
};

/** A device's state before its first event: `vfio_migration_init()` starts at RUNNING. */
export const QEMU_VFIO_INITIAL_STATE: MigStateName = 'RUNNING';

/**
 * Arcs QEMU issues immediately after the device's previous arc: the `cb` after the `prepare_cb`
 * of one `vm_state_notify()` (`hw/vfio/migration.c`, `vfio_vmstate_change_prepare()` moves to
 * the P2P state, `vfio_vmstate_change()` to STOP_COPY/STOP when stopping or RUNNING when starting).
 */
export const BACK_TO_BACK_ARCS: ReadonlySet<string> = new Set([
  'PRE_COPY_P2P>STOP_COPY',
  'PRE_COPY_P2P>STOP',
  'RUNNING_P2P>STOP_COPY',
  'RUNNING_P2P>STOP',
  'RUNNING_P2P>RUNNING',
]);

/** One `VFIO_MIGRATION` event, typed. */
export interface VfioStateEvent {
  /** QEMU's timestamp, epoch ms. */
  readonly atMs: number;
  /** `device-id` (the `-device …,id=`), else the QOM path. */
  readonly deviceId: string;
  readonly qomPath: string;
  readonly state: MigStateName;
}

/** Types a QMP event as a `VFIO_MIGRATION` state change; undefined for anything else (or a `prepare` notice). */
export function vfioStateEvent(e: Pick<QmpEvent, 'atMs' | 'event' | 'data'>): VfioStateEvent | undefined {
  if (e.event !== 'VFIO_MIGRATION') return undefined;
  const d = e.data;
  const qapi = d['device-state'];
  const state = typeof qapi === 'string' ? QAPI_VFIO_STATES[qapi] : undefined;
  if (state === undefined || state === 'prepare') return undefined;
  const qomPath = typeof d['qom-path'] === 'string' ? d['qom-path'] : '';
  const id = typeof d['device-id'] === 'string' && d['device-id'].length > 0 ? d['device-id'] : qomPath;
  if (id.length === 0) return undefined;
  return { atMs: e.atMs, deviceId: id, qomPath, state };
}

/** Follows each device's state through its events (the previous state of the next event). */
export class VfioStateTracker {
  private readonly states = new Map<string, { state: MigStateName; atMs: number; qomPath: string }>();

  /** The device's state (QEMU's initial RUNNING before any event). */
  state(deviceId: string): MigStateName {
    return this.states.get(deviceId)?.state ?? QEMU_VFIO_INITIAL_STATE;
  }

  /** When the device's last event came, epoch ms; undefined before any. */
  lastAtMs(deviceId: string): number | undefined {
    return this.states.get(deviceId)?.atMs;
  }

  /** Devices seen so far, by id, with their QOM path. */
  devices(): ReadonlyArray<{ readonly deviceId: string; readonly qomPath: string; readonly state: MigStateName }> {
    return [...this.states].map(([deviceId, s]) => ({ deviceId, qomPath: s.qomPath, state: s.state }));
  }

  /** Takes the event; returns the arc it ends (`from` inferred). A repeated state is no arc. */
  observe(e: VfioStateEvent): { readonly from: MigStateName; readonly to: MigStateName; readonly prevAtMs: number | undefined } | undefined {
    const prev = this.states.get(e.deviceId);
    const from = prev?.state ?? QEMU_VFIO_INITIAL_STATE;
    this.states.set(e.deviceId, { state: e.state, atMs: e.atMs, qomPath: e.qomPath });
    if (from === e.state) return undefined;
    return { from, to: e.state, prevAtMs: prev?.atMs };
  }
}

/** What the devices of one QEMU are, for the arc records. */
export interface VfioArcContext {
  readonly migrationId: string;
  /** Device model key by device id (`vfio-devices.ts`); `unknownModel` for devices not in it. */
  readonly models: ReadonlyMap<string, string>;
  readonly unknownModel: string;
  /** Latest stop-copy size known per device (from the trace), bytes; 0 when none is known. */
  readonly stopCopyBytesAt?: (deviceId: string, atMs: number) => number;
  /**
   * Start of the arc into `to` that ended at `endAtMs`, from QEMU's `vfio_migration_set_state`
   * trace (epoch ms), if it was on.
   */
  readonly tracedStartAtMs?: (deviceId: string, to: MigStateName, endAtMs: number) => number | undefined;
}

/** Arc records from one QEMU's events, and how many transitions had no known start. */
export interface VfioArcs {
  readonly arcs: ArcRecord[];
  readonly untimed: number;
}

/**
 * One `arc` record per timed transition, per device, from `events` (any order; only
 * `VFIO_MIGRATION` ones are read); see the module comment for which transitions are timed.
 */
export function vfioArcRecords(events: readonly Pick<QmpEvent, 'atMs' | 'event' | 'data' | 'line'>[], ctx: VfioArcContext): VfioArcs {
  const typed = events
    .map((e) => ({ e, v: vfioStateEvent(e) }))
    .filter((x): x is { e: (typeof events)[number]; v: VfioStateEvent } => x.v !== undefined)
    .sort((a, b) => a.v.atMs - b.v.atMs || a.e.line - b.e.line);
  const tracker = new VfioStateTracker();
  const arcs: ArcRecord[] = [];
  let untimed = 0;
  for (const { v } of typed) {
    const arc = tracker.observe(v);
    if (arc === undefined) continue;
    const key = `${arc.from}>${arc.to}`;
    const traced = ctx.tracedStartAtMs?.(v.deviceId, arc.to, v.atMs);
    const startAtMs = traced ?? (BACK_TO_BACK_ARCS.has(key) ? arc.prevAtMs : undefined);
    if (startAtMs === undefined || startAtMs > v.atMs) {
      untimed++;
      continue;
    }
    arcs.push({
      kind: 'arc',
      migrationId: ctx.migrationId,
      deviceId: v.deviceId,
      deviceModel: ctx.models.get(v.deviceId) ?? ctx.unknownModel,
      from: arc.from,
      to: arc.to,
      startedAtMs: startAtMs,
      latencyMs: v.atMs - startAtMs,
      stopCopyBytes: ctx.stopCopyBytesAt?.(v.deviceId, startAtMs) ?? 0,
      ok: true,
    });
  }
  return { arcs, untimed };
}
