/**
 * Live migration between two real QEMUs (TCG, tiny guest) through the QMP client. Skipped with a
 * message when the host lacks QEMU, a kernel, busybox-static or cc — unless CI is set, where a
 * missing tool fails the run instead.
 *
 * Assertions are about the migration (status, downtime, RAM statistics, events), never the guest's
 * health afterwards: QEMU < 9.0 under TCG can corrupt the guest after migration.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isMigrationEvent, isMigrationPassEvent } from '../../src/qemu/qapi-migration.js';
import { QmpError } from '../../src/qemu/qmp-errors.js';
import { parseQmpLog } from '../../src/qemu/qmp-log.js';
import type { QmpReceivedEvent } from '../../src/qemu/qmp-protocol.js';
import { skipWithout } from '../helpers/ci.js';
import { findGuestTools } from './guest/guest-image.js';
import { startPair, type GuestPair, type MigrationRun, type PairOptions } from './guest/harness.js';

const lookup = findGuestTools();
const skip = skipWithout(lookup.ok, 'real-QEMU migration tests', lookup.ok ? '' : `missing ${lookup.missing.join('; ')}`);
const title = (name: string): string => (skip ? `${name} (skipped: no QEMU guest tools on this host)` : name);

const BOOT_MS = 300_000;
const MIGRATE_MS = 240_000;

function statuses(events: readonly QmpReceivedEvent[]): string[] {
  return events.filter(isMigrationEvent).map((e) => e.data.status);
}

function passes(events: readonly QmpReceivedEvent[]): number[] {
  return events.filter(isMigrationPassEvent).map((e) => e.data.pass);
}

/** Boots a pair before the block's tests and stops it after them; the tests get it from the returned function. */
function usePair(opts: PairOptions): () => GuestPair {
  let pair: GuestPair | undefined;
  beforeAll(async () => {
    pair = await startPair(opts);
  }, BOOT_MS);
  afterAll(async () => {
    await pair?.stop();
  }, 60_000);
  return () => {
    if (pair === undefined) throw new Error('the guest pair did not start');
    return pair;
  };
}

function report(what: string, pair: GuestPair, run: MigrationRun): void {
  console.info(
    `${what}: boot ${pair.bootMs.toFixed(0)} ms, migration ${run.durationMs.toFixed(0)} ms wall / ` +
      `${run.info['total-time']} ms total-time, downtime ${run.info.downtime} ms, ` +
      `passes ${run.info.ram?.['dirty-sync-count']}, transferred ${run.info.ram?.transferred} B`,
  );
}

describe.skipIf(skip)(title('real QEMU: a slowly dirtying guest'), () => {
  const guest = usePair({ memMiB: 128, dirtyMiB: 32, dirtyRateMBps: 1 });
  let completed: MigrationRun | undefined;

  it('reports the source running and the destination waiting for an incoming migration', async () => {
    const pair = guest();
    expect(await pair.src.queryStatus()).toMatchObject({ running: true, status: 'running' });
    expect(await pair.dst.queryStatus()).toMatchObject({ running: false, status: 'inmigrate' });
    expect(await pair.src.queryMigrateCapabilities()).toMatchObject({ events: true });
    expect(await pair.src.queryMigrate()).toEqual({});
  });

  it('detects that vCPU dirty limits are unavailable under TCG', async () => {
    const pair = guest();
    const err: unknown = await pair.src.setVcpuDirtyLimit(10).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QmpError);
    // 7.1+ has the command but needs KVM's dirty ring; older QEMUs lack it altogether.
    expect(['E_QMP_COMMAND', 'ENOTSUP']).toContain((err as QmpError).code);
    const caps = await pair.src.queryMigrateCapabilities();
    console.info(
      `QEMU ${pair.src.qemuVersion}: set-vcpu-dirty-limit ${(await pair.src.hasCommand('set-vcpu-dirty-limit')) ? 'listed' : 'absent'}` +
        ` (${(err as Error).message}); dirty-limit capability ${'dirty-limit' in caps ? 'present' : 'absent'};` +
        ` switchover-ack ${'switchover-ack' in caps ? 'present' : 'absent'}`,
    );
  });

  it('migrates to completion with downtime, RAM statistics and MIGRATION/MIGRATION_PASS events', async () => {
    const pair = guest();
    const run = await pair.migrate({ timeoutMs: MIGRATE_MS });
    completed = run;
    report('slow dirtier', pair, run);
    expect(run.status).toBe('completed');
    expect(run.info.status).toBe('completed');
    expect(run.info.downtime).toBeGreaterThan(0);
    const ram = run.info.ram;
    expect(ram?.total).toBeGreaterThanOrEqual(128 * 1024 * 1024);
    expect(ram?.transferred).toBeGreaterThan(0);
    expect(ram?.remaining).toBe(0);
    expect(ram?.['downtime-bytes']).toBeGreaterThan(0);

    expect(statuses(run.events)).toEqual(['setup', 'active', 'completed']);
    const passNumbers = passes(run.events);
    expect(passNumbers.length).toBeGreaterThanOrEqual(1);
    expect(passNumbers).toEqual(passNumbers.map((_, i) => i + 1));
    expect(passNumbers.length).toBe(ram?.['dirty-sync-count']);
    const stopAt = run.events.findIndex((e) => e.event === 'STOP');
    const completedAt = run.events.findIndex((e) => isMigrationEvent(e) && e.data.status === 'completed');
    expect(stopAt).toBeGreaterThan(-1);
    expect(stopAt).toBeLessThan(completedAt);
    const stamps = run.events.map((e) => e.timestamp.seconds * 1e6 + e.timestamp.microseconds);
    expect(stamps).toEqual([...stamps].sort((a, b) => a - b));
  }, MIGRATE_MS);

  it('leaves the source post-migrate and starts the guest on the destination', async () => {
    const pair = guest();
    expect(await pair.src.queryStatus()).toMatchObject({ running: false, status: 'postmigrate' });
    // The destination starts the vCPUs once it has loaded the state, a moment after the source ends.
    await expect.poll(() => pair.dst.queryStatus(), { timeout: 30_000, interval: 100 }).toMatchObject({ running: true });
  });

  it('records a wire log that `import` reads back as this migration', () => {
    const pair = guest();
    const replies = pair.srcWireLog.map((l) => JSON.parse(l) as Record<string, unknown>).filter((m) => 'return' in m);
    expect(replies.length).toBeGreaterThan(0);
    expect(replies.every((m) => typeof m['ts'] === 'number' && m['ts'] > 1.6e9)).toBe(true);

    const parsed = parseQmpLog(pair.srcWireLog.join('\n'), 'src-qmp.log');
    expect(parsed.errors).toEqual([]);
    expect(parsed.migrations).toHaveLength(1);
    const m = parsed.migrations[0];
    // The last completed poll: an earlier one may predate QEMU 7.2's completion statistics (settledInfo in harness.ts).
    const done = m?.polls.filter((p) => p.status === 'completed').at(-1);
    expect(done?.downtimeMs).toBe(completed?.info.downtime);
    expect(done?.ram?.transferredBytes).toBe(completed?.info.ram?.transferred);
    expect(m?.events.filter((e) => e.event === 'MIGRATION_PASS')).toHaveLength(completed?.info.ram?.['dirty-sync-count'] ?? -1);
  });
});

describe.skipIf(skip)(title('real QEMU: a guest dirtying faster than the bandwidth cap'), () => {
  const guest = usePair({ memMiB: 128, dirtyMiB: 32, dirtyRateMBps: 64 });

  it('does not converge under a 16 MB/s cap and completes once downtime-limit is raised', async () => {
    const pair = guest();
    const limits = { 'max-bandwidth': 16_000_000, 'downtime-limit': 300 };
    await pair.src.migrateSetParameters(limits);
    expect(await pair.src.queryMigrateParameters()).toMatchObject(limits);
    await pair.startMigration();
    await pair.untilSrcEvents((ev) => passes(ev).length >= 3, MIGRATE_MS);
    const stuck = await pair.src.queryMigrate();
    expect(stuck.status).toBe('active');
    // QEMU's own estimate says the dirty set cannot be sent within the limit at this bandwidth.
    expect(stuck['expected-downtime']).toBeGreaterThan(300);

    await pair.src.migrateSetParameters({ 'downtime-limit': 60_000 });
    const run = await pair.waitForMigration({ timeoutMs: MIGRATE_MS });
    report('fast dirtier, limit raised', pair, run);
    expect(run.status).toBe('completed');
    expect(run.info.downtime).toBeGreaterThan(0);
    expect(run.info.ram?.['dirty-sync-count']).toBeGreaterThanOrEqual(3);
    expect(statuses(run.events)).toEqual(['setup', 'active', 'completed']);
  }, MIGRATE_MS);
});

describe.skipIf(skip)(title('real QEMU: migrate_cancel'), () => {
  const guest = usePair({ memMiB: 128, dirtyMiB: 32, dirtyRateMBps: 64 });

  it('cancels an active migration and keeps the source running', async () => {
    const pair = guest();
    await pair.src.migrateSetParameters({ 'max-bandwidth': 16_000_000 });
    await pair.startMigration();
    await pair.untilSrcEvents((ev) => statuses(ev).includes('active'), MIGRATE_MS);
    await pair.src.migrateCancel();
    const run = await pair.waitForMigration({ timeoutMs: MIGRATE_MS });
    expect(run.status).toBe('cancelled');
    expect(statuses(run.events)).toEqual(['setup', 'active', 'cancelling', 'cancelled']);
    expect(await pair.src.queryStatus()).toMatchObject({ running: true, status: 'running' });
    // An incoming QEMU whose stream breaks gives up and exits non-zero.
    const exit = await pair.dstProcess.exited;
    expect(exit.code).not.toBe(0);
  }, MIGRATE_MS);
});
