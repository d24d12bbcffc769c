import { describe, expect, it } from 'vitest';
import { migrationFacts } from '../../src/estimators/migrations.js';
import { migrationToRecords, VFIO_TRANSFER_DEVICE_ID } from '../../src/qemu/qmp-records.js';
import type { QmpMigration, QmpPoll } from '../../src/qemu/qmp-types.js';
import type { TransferRecord } from '../../src/records/records.js';

const ram = (transferredBytes: number, remainingBytes: number, downtimeBytes?: number) => ({
  totalBytes: 64 << 20,
  transferredBytes,
  remainingBytes,
  ...(downtimeBytes === undefined ? {} : { downtimeBytes }),
});

/** The QEMU 10 lab's shape (issue 16): `vfio.transferred` 0 → 24 in pre-copy (mtty's header) → 96 at completion. */
function labMigration(vfio: readonly (number | undefined)[]): QmpMigration {
  const at = (i: number): number | undefined => vfio[i];
  const poll = (i: number, p: Omit<QmpPoll, 'line' | 'atMs'>): QmpPoll => ({ atMs: 1_784_000_000_000 + i * 100, line: i + 1, ...p, ...(at(i) === undefined ? {} : { vfioTransferredBytes: at(i) as number }) });
  return {
    migrationId: 'lab/mig-1',
    file: 'lab.qmp',
    events: [],
    polls: [
      poll(0, { status: 'active', ram: ram(1 << 20, 60 << 20), expectedDowntimeMs: 300 }),
      poll(1, { status: 'active', ram: ram(50 << 20, 4096), expectedDowntimeMs: 300 }),
      poll(2, { status: 'completed', totalTimeMs: 210, downtimeMs: 60, ram: ram((50 << 20) + 8192, 0, 8192) }),
    ],
  };
}

const transfers = (m: QmpMigration): TransferRecord[] => migrationToRecords(m).filter((r): r is TransferRecord => r.kind === 'transfer');

describe('vfio.transferred', () => {
  it('gives the VFIO devices a transfer pair: the pre-copy bytes at the last active poll, the rest in the blackout', () => {
    const vfio = transfers(labMigration([0, 24, 96])).filter((t) => t.deviceId === VFIO_TRANSFER_DEVICE_ID);
    expect(vfio).toEqual([
      { kind: 'transfer', migrationId: 'lab/mig-1', deviceId: 'vfio', phase: 'precopy', bytes: 24, durationMs: 150 },
      { kind: 'transfer', migrationId: 'lab/mig-1', deviceId: 'vfio', phase: 'stopcopy', bytes: 72, durationMs: 60 },
    ]);
  });

  it('adds the device state moved in the blackout to the blackout bytes the fit learns from', () => {
    const records = migrationToRecords(labMigration([0, 24, 96]));
    const withOutcome = records.map((r) => (r.kind === 'outcome' ? { ...r, decidedAtMs: 1_784_000_000_100 } : r));
    const f = migrationFacts('lab/mig-1', withOutcome);
    // RAM's downtime-bytes (RAM only) plus the 72 bytes of device state.
    expect(f.blackoutBytes).toBe(8192 + 72);
    expect(f.ramBlackoutBytes).toBe(8192);
  });

  it('gives none when QEMU reports no vfio member (no VFIO device, or QEMU < 5.2)', () => {
    expect(transfers(labMigration([])).map((t) => t.deviceId)).toEqual(['ram', 'ram']);
  });
});
