/**
 * The VFIO part of a QMP wire log, and the `arc` and `size` records it makes — for
 * `vfio-sla import` of a log and for `vfio-sla watch` alike (the watch recorder keeps the same
 * lines and converts them with the same function).
 *
 * QMP has the source's `VFIO_MIGRATION` events (ordinary event lines of the log). What QMP does
 * not carry, `watch` writes into its log as annotation lines, one JSON object each, marked
 * `"vfio-sla"` (QEMU never sends such a member, so a QMP reader skips them):
 * - `{"vfio-sla": "devices", "side", "devices": [{"device-id", "qom-path", "name", "vendor",
 *   "device", "model"}]}` — the VFIO devices of one QEMU (`vfio-devices.ts`);
 * - `{"vfio-sla": "trace", "side", "text", "ts"}` — one line of QEMU's VFIO trace (`vfio-trace.ts`),
 *   `ts` the epoch seconds it was read at;
 * - `{"vfio-sla": "event", "side": "destination", "event": {…}}` — a `VFIO_MIGRATION` event of the
 *   destination QEMU, as it sent it;
 * - `{"vfio-sla": "stack", "side", "qemu-version": "10.0.2"}` — one QEMU's `query-version`, the
 *   provenance of the migration's records (`StackRecord`).
 * `side` is `source` or `destination`.
 */
import type { ArcRecord, SizeRecord } from '../records/records.js';
import type { QmpEvent } from './qmp-types.js';
import type { VfioDeviceInfo } from './vfio-devices.js';
import { vfioArcRecords } from './vfio-events.js';
import { parseVfioTraceLine, VfioTraceTracker } from './vfio-trace.js';
import { isJsonObject, type JsonObject } from '../json/guards.js';

/** Which QEMU of the migration a VFIO line is about. */
export type VfioSide = 'source' | 'destination';

/** What a log says about one QEMU's VFIO devices beyond the source's QMP events. */
export interface VfioSideLog {
  readonly devices: VfioDeviceInfo[];
  readonly trace: { readonly atMs: number; readonly text: string }[];
  /** Destination only: its `VFIO_MIGRATION` events (the source's are the log's own events). */
  readonly events: QmpEvent[];
  /** This QEMU's version (a `stack` annotation); undefined when the log does not say. */
  qemuVersion: string | undefined;
}

/** The VFIO annotations of one migration, by side. */
export type VfioLog = Readonly<Record<VfioSide, VfioSideLog>>;

export function emptyVfioLog(): VfioLog {
  return { source: { devices: [], trace: [], events: [], qemuVersion: undefined }, destination: { devices: [], trace: [], events: [], qemuVersion: undefined } };
}

/** Model of a device whose PCI ids the log does not give. */
export const UNIDENTIFIED_DEVICE_MODEL = 'vfio-pci';

/** A malformed annotation; the reader reports it with its line. */
export class VfioAnnotationError extends Error {}

function str(o: JsonObject, key: string): string {
  const v = o[key];
  if (typeof v !== 'string') throw new VfioAnnotationError(`vfio-sla ${key} is not a string`);
  return v;
}

function int(o: JsonObject, key: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new VfioAnnotationError(`vfio-sla ${key} is not a non-negative integer`);
  return v;
}

/** Whether a parsed log line is an annotation of this module. */
export function isVfioAnnotation(v: JsonObject): boolean {
  return typeof v['vfio-sla'] === 'string';
}

/**
 * Adds one annotation line (already JSON-parsed) to `log`. Throws {@link VfioAnnotationError}
 * for a shape this module does not write.
 */
export function addVfioAnnotation(log: VfioLog, v: JsonObject, line: number): void {
  const side = v['side'];
  if (side !== 'source' && side !== 'destination') throw new VfioAnnotationError('vfio-sla side is neither "source" nor "destination"');
  const into = log[side];
  switch (v['vfio-sla']) {
    case 'devices': {
      const list = v['devices'];
      if (!Array.isArray(list)) throw new VfioAnnotationError('vfio-sla devices is not an array');
      for (const d of list) {
        if (!isJsonObject(d)) throw new VfioAnnotationError('vfio-sla device is not an object');
        into.devices.push({
          deviceId: str(d, 'device-id'),
          qomPath: str(d, 'qom-path'),
          name: str(d, 'name'),
          vendorId: int(d, 'vendor'),
          pciDeviceId: int(d, 'device'),
          model: str(d, 'model'),
        });
      }
      return;
    }
    case 'trace': {
      const ts = v['ts'];
      if (typeof ts !== 'number' || !Number.isFinite(ts)) throw new VfioAnnotationError('vfio-sla trace has no numeric ts');
      into.trace.push({ atMs: ts * 1000, text: str(v, 'text') });
      return;
    }
    case 'event': {
      const e = v['event'];
      if (!isJsonObject(e) || typeof e['event'] !== 'string' || !isJsonObject(e['timestamp'])) throw new VfioAnnotationError('vfio-sla event is not a QMP event');
      const ts = e['timestamp'];
      const atMs = Number(ts['seconds']) * 1000 + Number(ts['microseconds']) / 1000;
      if (!Number.isFinite(atMs)) throw new VfioAnnotationError('vfio-sla event timestamp is not numeric');
      into.events.push({ atMs, line, event: e['event'], data: isJsonObject(e['data']) ? e['data'] : {} });
      return;
    }
    case 'stack': {
      const version = str(v, 'qemu-version');
      if (!/^\d+\.\d+\.\d+$/.test(version)) throw new VfioAnnotationError('vfio-sla qemu-version is not major.minor.micro');
      into.qemuVersion = version;
      return;
    }
    default:
      throw new VfioAnnotationError(`unknown vfio-sla annotation ${JSON.stringify(v['vfio-sla'])}`);
  }
}

/** The annotation line for `watch` to write (no terminator). */
export function vfioAnnotationLine(
  side: VfioSide,
  body: { devices: readonly VfioDeviceInfo[] } | { trace: string; atMs: number } | { event: string } | { qemuVersion: string },
): string {
  if ('qemuVersion' in body) return JSON.stringify({ 'vfio-sla': 'stack', side, 'qemu-version': body.qemuVersion });
  if ('devices' in body) {
    const devices = body.devices.map((d) => ({
      'device-id': d.deviceId,
      'qom-path': d.qomPath,
      name: d.name,
      vendor: d.vendorId,
      device: d.pciDeviceId,
      model: d.model,
    }));
    return JSON.stringify({ 'vfio-sla': 'devices', side, devices });
  }
  if ('trace' in body) return JSON.stringify({ 'vfio-sla': 'trace', side, text: body.trace, ts: body.atMs / 1000 });
  return `{"vfio-sla": "event", "side": ${JSON.stringify(side)}, "event": ${body.event}}`;
}

/** The records of one side, and how many of its transitions had no known start (`vfio-events.ts`). */
export interface VfioSideRecords {
  readonly arcs: ArcRecord[];
  readonly sizes: SizeRecord[];
  readonly untimedArcs: number;
  /** The blackout's transfer as the source's downtime checkpoints timed it ({@link VfioTraceTracker.blackoutTransferMs}). */
  readonly blackoutTransferMs: number | undefined;
}

/**
 * `arc` and `size` records of one QEMU: `events` its `VFIO_MIGRATION` events, `side` its
 * devices and trace. Record times are the events' and trace lines' epoch ms.
 */
export function vfioSideRecords(migrationId: string, events: readonly QmpEvent[], side: VfioSideLog): VfioSideRecords {
  const byName = new Map(side.devices.map((d) => [d.name, d.deviceId]));
  // Each trace line parsed once, in the order it was read.
  const lines = [...side.trace].sort((a, b) => a.atMs - b.atMs).flatMap((t) => parseVfioTraceLine(t.text, t.atMs) ?? []);
  const names = new Set(lines.flatMap((l) => (l.kind === 'checkpoint' ? [] : [l.name])));
  const ids = new Set(events.map((e) => (typeof e.data['device-id'] === 'string' ? e.data['device-id'] : undefined)).filter((n): n is string => n !== undefined));
  // One device without a devices line: its trace name and its event id are the same device.
  const only = side.devices.length === 0 && names.size === 1 && ids.size === 1 ? [...ids][0] : undefined;
  const tracker = new VfioTraceTracker((name) => byName.get(name) ?? only ?? name);
  const sizes: SizeRecord[] = [];
  for (const parsed of lines) {
    const r = tracker.observe(parsed, migrationId);
    if (r !== undefined) sizes.push(r);
  }
  const models = new Map(side.devices.map((d) => [d.deviceId, d.model]));
  const { arcs, untimed } = vfioArcRecords(events, {
    migrationId,
    models,
    unknownModel: UNIDENTIFIED_DEVICE_MODEL,
    stopCopyBytesAt: (id, atMs) => tracker.stopCopyBytesAt(id, atMs),
    tracedStartAtMs: (id, to, endAtMs) => tracker.startOf(id, to, endAtMs),
  });
  return { arcs, sizes, untimedArcs: untimed, blackoutTransferMs: tracker.blackoutTransferMs() };
}

/** Both sides' records of a migration (source events = the log's own events); the blackout's transfer is the source's. */
export function vfioRecords(migrationId: string, sourceEvents: readonly QmpEvent[], log: VfioLog | undefined): VfioSideRecords {
  const l = log ?? emptyVfioLog();
  const src = vfioSideRecords(migrationId, sourceEvents, l.source);
  const dst = vfioSideRecords(migrationId, l.destination.events, l.destination);
  return { arcs: [...src.arcs, ...dst.arcs], sizes: [...src.sizes, ...dst.sizes], untimedArcs: src.untimedArcs + dst.untimedArcs, blackoutTransferMs: src.blackoutTransferMs };
}
