/**
 * `watch` with a VFIO device in the source QEMU (QEMU 10 shapes, `fake-vfio-device.ts`): arcs from
 * its `VFIO_MIGRATION` events, sizes from QEMU's trace switched on and off over QMP, the device in
 * the governor's snapshot, and `--drive` holding the switchover until the device-aware bound fits.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_PRIORS_FILE, loadModel } from '../../../src/files/model-file.js';
import { compileModel } from '../../../src/estimators/compile.js';
import { migrationToRecords, parseQmpLog } from '../../../src/qemu/qmp-log.js';
import { QmpClient } from '../../../src/qemu/qmp-client.js';
import { MigrationWatch } from '../../../src/app/watch/watch.js';
import type { DecisionEntry, WatchEntry, WatchResult } from '../../../src/app/watch/watch-types.js';
import type { ArcRecord, SizeRecord, TelemetryRecord } from '../../../src/records/records.js';
import { FakeQmpServer } from '../../qemu/fake-qmp-server.js';
import { FakeVfioDevice } from '../../qemu/fake-vfio-device.js';
import { FakeQemu, type FakeMigrationOptions } from '../../qemu/watch-fake-qemu.js';

const MODEL = compileModel(loadModel(DEFAULT_PRIORS_FILE));
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

interface Run {
  readonly result: WatchResult;
  readonly entries: WatchEntry[];
  readonly records: TelemetryRecord[];
  readonly log: string[];
  readonly fq: FakeQemu;
}

/** A destination QEMU with the same device: `resuming` when the migration starts, `running-p2p`, `running` when it completes. */
async function destination(): Promise<{ srv: FakeQmpServer; dev: FakeVfioDevice; qmp: QmpClient }> {
  const srv = await FakeQmpServer.start();
  cleanups.push(() => srv.close());
  const dev = new FakeVfioDevice(srv, { stopCopyBytes: () => 0 });
  return { srv, dev, qmp: new QmpClient({ endpoint: { path: srv.path }, commandTimeoutMs: 10_000 }) };
}

async function watch(
  fake: FakeMigrationOptions,
  o: { drive?: boolean; trace?: boolean; deadlineMs?: number; dest?: Awaited<ReturnType<typeof destination>> } = {},
): Promise<Run> {
  const fq = await FakeQemu.start(fake);
  cleanups.push(() => fq.close());
  const dir = mkdtempSync(join(tmpdir(), 'vfio-sla-trace-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const qmp = new QmpClient({ endpoint: { path: fq.path }, commandTimeoutMs: 10_000 });
  const records: TelemetryRecord[] = [];
  const entries: WatchEntry[] = [];
  const log: string[] = [];
  const w = new MigrationWatch({
    qmp,
    sink: { push: (r) => records.push(r) },
    migrationId: 'fake/vfio',
    source: 'fake.qmp',
    writeLogLine: (l) => log.push(l),
    model: MODEL,
    slo: { deadlineMs: o.deadlineMs ?? 1500, alpha: 0.1, budgetMs: Infinity },
    drive: o.drive ?? false,
    // MODEL is not calibrated for this VM: steer anyway, as an operator would with --abort-without-model.
    abortWithoutModel: o.drive ?? false,
    pollIntervalMs: 5,
    ...(o.trace === true ? { vfioTrace: { qemuPath: join(dir, 'qemu.log') } } : {}),
    ...(o.dest === undefined ? {} : { destination: o.dest.qmp }),
  });
  w.timeline$.subscribe((e) => {
    entries.push(e);
    if (e.type === 'attach') {
      fq.startMigration();
      o.dest?.dev.setState('resuming', 'RESUMING');
    }
    if (e.type === 'event' && e.event === 'MIGRATION' && e.data['status'] === 'completed') {
      o.dest?.dev.setState('running-p2p', 'RUNNING_P2P');
      o.dest?.dev.setState('running', 'RUNNING');
    }
  });
  const result = await w.run();
  await qmp.close();
  await o.dest?.qmp.close();
  return { result, entries, records, log, fq };
}

const arcs = (rs: TelemetryRecord[]): string[] => rs.filter((r): r is ArcRecord => r.kind === 'arc').map((a) => `${a.from}>${a.to}`);
const sizes = (rs: TelemetryRecord[]): SizeRecord[] => rs.filter((r): r is SizeRecord => r.kind === 'size');
const decisions = (es: readonly WatchEntry[]): DecisionEntry[] => es.filter((e): e is DecisionEntry => e.type === 'decision');
const notes = (es: readonly WatchEntry[]): string[] => es.flatMap((e) => (e.type === 'note' ? [e.message] : []));
const converging = (n: number): number => [100e6, 60e6, 30e6, 8e6][n] ?? 4e6;

describe('watch with a VFIO device', () => {
  it('puts the device in every decision, says its model falls back to the prior, and records its back-to-back arc', async () => {
    const { result, entries, records } = await watch({ remainingBytes: converging, vfio: { stopCopyBytes: () => 16384 } });
    expect(result.end).toBe('completed');
    expect(notes(entries).some((m) => /vfio0 is pci-4348:3253, which the model does not know: predicted with the qat-vf prior/.test(m))).toBe(true);
    expect(notes(entries).some((m) => m.includes('--vfio-trace'))).toBe(true);
    const d = decisions(entries);
    expect(d.length).toBeGreaterThan(0);
    for (const e of d) expect(e.decision.breakdown.some((p) => p.deviceId === 'vfio0')).toBe(true);
    expect(arcs(records)).toEqual(['PRE_COPY_P2P>STOP_COPY']);
  });

  it('with --vfio-trace, switches QEMU’s VFIO trace on for the migration and off after, timing every arc and recording sizes per iteration', async () => {
    const { result, records, fq, log } = await watch({ remainingBytes: converging, vfio: { stopCopyBytes: (n) => 16384 + n } }, { trace: true });
    expect(result.end).toBe('completed');
    expect(fq.vfio?.logFile).toMatch(/qemu\.log$/);
    expect([...(fq.vfio?.traceEnabled.values() ?? [])].every((on) => !on)).toBe(true);
    expect(arcs(records)).toEqual(['RUNNING>PRE_COPY', 'PRE_COPY>PRE_COPY_P2P', 'PRE_COPY_P2P>STOP_COPY', 'STOP_COPY>STOP']);
    const s = sizes(records);
    expect(s.map((x) => x.stopCopyBytes)).toEqual(s.map((_, i) => 16384 + i));
    expect(s.length).toBeGreaterThanOrEqual(2);
    // The log watch wrote makes the same arc and size records on import.
    const parsed = parseQmpLog(log.join('\n'), 'fake/vfio.log');
    const imported = migrationToRecords(parsed.migrations[0]!);
    expect(imported.filter((r) => r.kind === 'arc' || r.kind === 'size')).toEqual(records.filter((r) => r.kind === 'arc' || r.kind === 'size'));
  });
});

describe('watch with the destination QEMU', () => {
  it('records the destination device’s arcs with the source’s, and waits for it to run', async () => {
    const dest = await destination();
    const { result, records, entries } = await watch({ remainingBytes: converging, vfio: { stopCopyBytes: () => 16384 } }, { dest });
    expect(result.end).toBe('completed');
    expect(arcs(records)).toEqual(['PRE_COPY_P2P>STOP_COPY', 'RUNNING_P2P>RUNNING']);
    expect(entries.filter((e) => e.type === 'event' && e.data['side'] === 'destination').map((e) => (e.type === 'event' ? e.data['device-state'] : ''))).toEqual([
      'resuming',
      'running-p2p',
      'running',
    ]);
  });
});

describe('watch --drive with a VFIO device', () => {
  it('holds the switchover while the device’s pre-copy initial data is pending, then releases it', async () => {
    const initial = (n: number): number => (n < 6 ? 2_000_000 : 0);
    const { result, entries } = await watch({ remainingBytes: converging, vfio: { stopCopyBytes: () => 16384, initialBytes: initial } }, { drive: true, trace: true });
    const d = decisions(entries);
    expect(result).toMatchObject({ end: 'completed', switchoverBy: 'governor' });
    const commit = d.findIndex((e) => e.decision.action === 'commit');
    expect(commit).toBeGreaterThan(0);
    expect(d.slice(0, commit).some((e) => e.decision.reason === 'INITIAL_BYTES_PENDING' || e.decision.reason === 'DEVICE_PRECOPY_PENDING')).toBe(true);
  });

  it('cancels cleanly when the device-aware bound never fits, and the device runs on the source again', async () => {
    const { result, fq } = await watch({ remainingBytes: converging, vfio: { stopCopyBytes: () => 100 * 2 ** 30 } }, { drive: true, trace: true, deadlineMs: 500 });
    expect(result).toMatchObject({ end: 'cancelled', cancelledByWatch: true });
    expect(fq.vfio?.sent.at(-1)).toBe('running');
  });
});
