import { describe, expect, it } from 'vitest';
import { migrationToRecords, parseQmpLog } from '../../src/qemu/qmp-log.js';
import { DEFAULT_PRIORS_FILE, loadModel } from '../../src/files/model-file.js';
import { compileModel } from '../../src/estimators/compile.js';
import { fitModel } from '../../src/estimators/fit.js';
import { buildPriors } from '../../src/estimators/priors.js';
import { MigFlags, MigState } from '../../src/fsm/index.js';
import { decisionModelOf, deviceModelOf } from '../../src/qemu/vfio-devices.js';
import { vfioArcRecords, vfioStateEvent } from '../../src/qemu/vfio-events.js';
import { DOWNTIME_CHECKPOINT_EVENT, parseVfioTraceLine, VFIO_TRACE_EVENTS } from '../../src/qemu/vfio-trace.js';
import { vfioSideRecords } from '../../src/qemu/vfio-records.js';
import type { ArcRecord, SizeRecord, TelemetryRecord } from '../../src/records/records.js';
import { validateRecord } from '../../src/telemetry/validate.js';
import { checkpointLine, MDEV_UUID, qemu10WireLog, T0_S, vfioEvent } from './vfio-fixture.js';

const arcsOf = (rs: TelemetryRecord[]): ArcRecord[] => rs.filter((r): r is ArcRecord => r.kind === 'arc');
const sizesOf = (rs: TelemetryRecord[]): SizeRecord[] => rs.filter((r): r is SizeRecord => r.kind === 'size');

function records(trace: boolean, checkpoints = false): TelemetryRecord[] {
  const { migrations, errors } = parseQmpLog(qemu10WireLog({ trace, checkpoints }).join('\n'), '/logs/vm1.qmp.log');
  expect(errors).toEqual([]);
  expect(migrations).toHaveLength(1);
  return migrationToRecords(migrations[0]!);
}

describe('VFIO_MIGRATION events as arcs', () => {
  it('types a QEMU 10 event and maps the QAPI state to the kernel name; 11.0 prepare notices make no state', () => {
    const e = vfioEvent('pre-copy-p2p', T0_S);
    expect(vfioStateEvent({ atMs: 1, event: 'VFIO_MIGRATION', data: e['data'] as Record<string, unknown> })).toEqual({
      atMs: 1,
      deviceId: 'vfio0',
      qomPath: '/machine/peripheral/vfio0',
      state: 'PRE_COPY_P2P',
    });
    const prep = { 'device-id': 'vfio0', 'qom-path': '/machine/peripheral/vfio0', 'device-state': 'pre-copy-p2p-prepare' };
    expect(vfioStateEvent({ atMs: 1, event: 'VFIO_MIGRATION', data: prep })).toBeUndefined();
  });

  it('without the trace, records only the arcs QEMU issues back to back, timed from the previous event, on both sides', () => {
    const arcs = arcsOf(records(false));
    expect(arcs.map((a) => `${a.from}>${a.to}`)).toEqual(['PRE_COPY_P2P>STOP_COPY', 'RUNNING_P2P>RUNNING']);
    expect(arcs[0]!.latencyMs).toBeCloseTo(0.9, 3);
    expect(arcs[1]!.latencyMs).toBeCloseTo(0.6, 3);
    expect(arcs.every((a) => a.deviceModel === 'pci-4348:3253' && a.deviceId === 'vfio0')).toBe(true);
  });

  it('with the trace, records every transition, the previous state inferred from RUNNING, timed from vfio_migration_set_state', () => {
    const arcs = arcsOf(records(true));
    expect(arcs.map((a) => `${a.from}>${a.to}`)).toEqual([
      'RUNNING>PRE_COPY',
      'PRE_COPY>PRE_COPY_P2P',
      'PRE_COPY_P2P>STOP_COPY',
      'STOP_COPY>STOP',
      'RUNNING>RESUMING',
      'RESUMING>RUNNING_P2P',
      'RUNNING_P2P>RUNNING',
    ]);
    const toStopCopy = arcs[2]!;
    expect(toStopCopy.latencyMs).toBeCloseTo(0.8, 3); // set_state at +170.4 ms, event at +171.2 ms
    expect(toStopCopy.stopCopyBytes).toBe(16384); // the last exact size before the arc began
    expect(arcs[0]!.latencyMs).toBeCloseTo(1.5, 3);
    for (const a of arcs) expect(validateRecord(a)).toMatchObject({ ok: true });
  });

  it('a failed-looking order (event before any start) is untimed, not a negative latency', () => {
    const events = [vfioEvent('pre-copy', T0_S)].map((e, i) => ({ atMs: T0_S * 1000, line: i + 1, event: 'VFIO_MIGRATION', data: e['data'] as Record<string, unknown> }));
    const r = vfioArcRecords(events, {
      migrationId: 'm',
      models: new Map(),
      unknownModel: 'x',
      tracedStartAtMs: () => T0_S * 1000 + 5,
    });
    expect(r).toEqual({ arcs: [], untimed: 1 });
  });
});

describe('VFIO trace as size records', () => {
  it('reads QEMU 10 (decimal) and QEMU 8 (hex) pending lines, with or without the log timestamp', () => {
    const dec = parseVfioTraceLine(
      `4242@1765000000.090000:vfio_state_pending_exact  (${MDEV_UUID}) precopy 85024 postcopy 0 stopcopy size 16384 precopy initial size 4096 precopy dirty size 0`,
      1,
    );
    expect(dec).toEqual({ kind: 'pending', exact: true, atMs: 1765000000090, name: MDEV_UUID, stopCopyBytes: 16384, initialBytes: 4096, dirtyBytes: 0 });
    const hex = parseVfioTraceLine('vfio_state_pending_estimate  (0000:3b:00.1) precopy 0x10 postcopy 0x0 precopy initial size 0x1000 precopy dirty size 0x18', 7);
    expect(hex).toEqual({ kind: 'pending', exact: false, atMs: 7, name: '0000:3b:00.1', initialBytes: 4096, dirtyBytes: 24 });
    expect(parseVfioTraceLine('qemu-system-x86_64: warning: something else', 1)).toBeUndefined();
  });

  it('makes one size record per pending line once a stop-copy size is known, per device, at the trace line’s epoch time', () => {
    const sizes = sizesOf(records(true));
    expect(sizes.map((s) => [s.deviceId, s.stopCopyBytes, s.initialBytes, s.dirtyBytes])).toEqual([
      ['vfio0', 16384, 4096, 0],
      ['vfio0', 16384, 0, 24],
      ['vfio0', 16384, 0, 24],
    ]);
    expect(sizes[0]!.atMs).toBeCloseTo(T0_S * 1000 + 90, 3); // record times are epoch ms: the trace line at T0 + 90 ms
  });

  it('reads vfio.transferred from query-migrate', () => {
    const { migrations } = parseQmpLog(qemu10WireLog({ trace: false }).join('\n'), 'x.log');
    expect(migrations[0]!.polls.map((p) => p.vfioTransferredBytes)).toEqual([0, 24, 96]);
  });

  it('reports a malformed annotation with its line and keeps the rest', () => {
    const lines = qemu10WireLog({ trace: false });
    lines.splice(1, 0, JSON.stringify({ 'vfio-sla': 'devices', side: 'sideways', devices: [] }));
    const { migrations, errors } = parseQmpLog(lines.join('\n'), 'x.log');
    expect(errors).toEqual([{ file: 'x.log', line: 2, reason: 'vfio-sla side is neither "source" nor "destination"' }]);
    expect(arcsOf(migrationToRecords(migrations[0]!))).toHaveLength(2);
  });
});

describe("QEMU's downtime checkpoints", () => {
  it('are switched on with the VFIO trace and read with their own times only', () => {
    expect(VFIO_TRACE_EVENTS).toContain(DOWNTIME_CHECKPOINT_EVENT);
    expect(parseVfioTraceLine(checkpointLine(T0_S + 0.1713, 'src-vm-stopped'), 1)).toEqual({ kind: 'checkpoint', atMs: T0_S * 1000 + 171.3, checkpoint: 'src-vm-stopped', timed: true });
    expect(parseVfioTraceLine('vmstate_downtime_checkpoint src-iterable-saved', 5)).toEqual({ kind: 'checkpoint', atMs: 5, checkpoint: 'src-iterable-saved', timed: false });
    const at = (tS: number, c: string): { atMs: number; text: string } => ({ atMs: 0, text: checkpointLine(T0_S + tS, c) });
    const blackoutTransferMs = (trace: { atMs: number; text: string }[]): number | undefined =>
      vfioSideRecords('m', [], { devices: [], trace, events: [], qemuVersion: undefined }).blackoutTransferMs;
    expect(blackoutTransferMs([at(0.1, 'src-downtime-start'), at(0.1013, 'src-vm-stopped'), at(0.1202, 'src-iterable-saved')])).toBeCloseTo(18.9, 2);
    // A second blackout (an attempt brought back, then another): the last one's.
    expect(blackoutTransferMs([at(0.1, 'src-vm-stopped'), at(0.2, 'src-iterable-saved'), at(0.5, 'src-vm-stopped'), at(0.504, 'src-iterable-saved')])).toBeCloseTo(4, 2);
    // Without its own time a checkpoint says nothing at this scale; without both, nothing either.
    expect(blackoutTransferMs([at(0.1, 'src-vm-stopped'), { atMs: 130, text: 'vmstate_downtime_checkpoint src-iterable-saved' }])).toBeUndefined();
    expect(blackoutTransferMs([at(0.1, 'src-vm-stopped')])).toBeUndefined();
    expect(blackoutTransferMs([])).toBeUndefined();
  });

  it("time the blackout's transfer apart from QEMU's downtime in the stop-copy transfer records, and nothing else changes", () => {
    const stopcopy = (rs: TelemetryRecord[]): [string, number, number][] =>
      rs.flatMap((r) => (r.kind === 'transfer' && r.phase === 'stopcopy' ? [[r.deviceId, r.bytes, r.durationMs] as [string, number, number]] : []));
    expect(stopcopy(records(true))).toEqual([['ram', 900_000, 61], ['vfio', 72, 61]]);
    const timed = stopcopy(records(true, true));
    expect(timed.map(([d, b]) => [d, b])).toEqual([['ram', 900_000], ['vfio', 72]]);
    for (const [, , ms] of timed) expect(ms).toBeCloseTo(18.9, 3);
    const other = (rs: TelemetryRecord[]): TelemetryRecord[] => rs.filter((r) => !(r.kind === 'transfer' && r.phase === 'stopcopy'));
    expect(other(records(true, true))).toEqual(other(records(true)));
    for (const r of records(true, true)) expect(validateRecord(r)).toEqual(r);
  });
});

describe('device models', () => {
  it('maps known PCI ids to the estimators’ models and names the others by their ids', () => {
    expect(deviceModelOf(0x15b3, 0x101e)).toBe('mlx5-cx7');
    expect(deviceModelOf(0x8086, 0x4941)).toBe('qat-vf');
    expect(deviceModelOf(0x4348, 0x3253)).toBe('pci-4348:3253');
  });

  it('predicts a device with a prior covering its path until its own model covers it', () => {
    const flags = MigFlags.STOP_COPY | MigFlags.P2P | MigFlags.PRE_COPY;
    const priors = compileModel(loadModel(DEFAULT_PRIORS_FILE));
    expect(decisionModelOf(priors, 'pci-4348:3253', MigState.PRE_COPY, flags)).toEqual({ model: 'qat-vf', fallback: true });
    expect(decisionModelOf(priors, 'pci-4348:3253', MigState.RUNNING, MigFlags.STOP_COPY)).toEqual({ model: 'generic-nic', fallback: true });
    expect(decisionModelOf(priors, 'mlx5-cx7', MigState.PRE_COPY, flags)).toEqual({ model: 'mlx5-cx7', fallback: false });
    // Learnt from QEMU's events: no RESUMING>STOP alone, but QEMU's one request RESUMING>RUNNING_P2P
    // is the destination's load and first restart step, so its own model covers the path.
    const learnt = compileModel(fitModel(arcsOf(records(true)), buildPriors()));
    expect(learnt.devices.get('pci-4348:3253')?.restart[flags]?.arcs.map((a) => a.key)).toEqual(['RESUMING>RUNNING_P2P', 'RUNNING_P2P>RUNNING']);
    expect(decisionModelOf(learnt, 'pci-4348:3253', MigState.PRE_COPY, flags)).toEqual({ model: 'pci-4348:3253', fallback: false });
    // Without the trace QEMU's events time only the arcs it issues back to back: the load is unknown.
    const events = compileModel(fitModel(arcsOf(records(false)), buildPriors()));
    expect(events.devices.get('pci-4348:3253')?.restart[flags]?.missing).toEqual(['pci-4348:3253:RESUMING>STOP', 'pci-4348:3253:STOP>RUNNING_P2P']);
    expect(decisionModelOf(events, 'pci-4348:3253', MigState.PRE_COPY, flags)).toEqual({ model: 'qat-vf', fallback: true });
  });
});
