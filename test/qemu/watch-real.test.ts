/**
 * `vfio-sla watch` on a real migration: two QEMU 7.2 under TCG with a tiny guest
 * (guest/harness.ts), migrated over TCP on 127.0.0.1 by the harness's QMP client — "someone
 * else" — while watch follows on a second QMP monitor of the source (QEMU serves one client per
 * monitor socket; a wrapper adds `-qmp unix:<harness socket>.watch` to the harness's command line).
 *
 * Assertions are about the migration, the order of things on the QMP socket and the store, never
 * about the guest afterwards (QEMU < 9.0 under TCG can corrupt it after migration), and never
 * about speed. Skipped with a message when the host lacks QEMU or the guest tools, unless CI is
 * set, where that fails the run.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { MIGRATION_FINAL_STATUSES } from '../../src/qemu/qapi-migration.js';
import { ThrottleLever } from '../../src/app/watch/watch-throttle.js';
import { listMigrations, tableCounts } from '../../src/store/inventory.js';
import { outcomes, ramProgress } from '../../src/store/queries.js';
import type { Store } from '../../src/store/store.js';
import { captureIo, type CapturedIo } from '../cli/io.js';
import { skipWithout } from '../helpers/ci.js';
import { findGuestTools, type GuestTools } from './guest/guest-image.js';
import { startPair, type GuestPair, type PairOptions } from './guest/harness.js';
import { withStore } from '../store/fixtures.js';

const lookup = findGuestTools();
const skip = skipWithout(lookup.ok, 'real-QEMU watch tests', lookup.ok ? '' : `missing ${lookup.missing.join('; ')}`);
const title = (name: string): string => (skip ? `${name} (skipped: no QEMU guest tools on this host)` : name);

const BOOT_MS = 300_000;
const MIGRATE_MS = 240_000;
const CASE_MS = BOOT_MS + MIGRATE_MS;

/**
 * A guest that dirties its 16 MiB working set faster than pre-copy sends it: every bitmap sync
 * finds megabytes pending, far above the 1 ms hold's threshold (≈ 134 KB at the default 128 MiB/s
 * bandwidth) and far below QEMU's own 300 ms one (≈ 40 MB) — QEMU would switch at its first check,
 * and the hold does not leak.
 */
const BUSY_GUEST: PairOptions = { memMiB: 128, dirtyMiB: 16, dirtyRateMBps: 256 };

let dir: string;
let pair: GuestPair | undefined;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'vfio-sla-watch-real-'));
});
afterEach(async () => {
  await pair?.stop();
  pair = undefined;
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

/** A QEMU wrapper that adds a second QMP monitor at `<the harness's socket>.watch`. */
function withWatchMonitor(tools: GuestTools): GuestTools {
  const wrapper = join(dir, 'qemu-with-watch-monitor');
  writeFileSync(
    wrapper,
    [
      '#!/bin/sh',
      'for a in "$@"; do case "$a" in unix:*,server=on,wait=off) s=${a#unix:}; s=${s%%,*};; esac; done',
      `exec '${tools.qemu}' "$@" -qmp "unix:\${s}.watch,server=on,wait=off"`,
      '',
    ].join('\n'),
  );
  chmodSync(wrapper, 0o755);
  return { ...tools, qemu: wrapper };
}

async function boot(opts: PairOptions): Promise<GuestPair> {
  if (!lookup.ok) throw new Error(lookup.ok ? '' : `missing ${lookup.missing.join('; ')}`);
  pair = await startPair({ ...opts, tools: withWatchMonitor(lookup.tools) });
  return pair;
}

/** Starts `vfio-sla watch` on the source's second monitor; resolves once it is attached. */
async function startWatch(p: GuestPair, args: string[]): Promise<{ io: CapturedIo; done: Promise<number> }> {
  const io = captureIo(dir);
  const done = runCli(['watch', '--qmp', join(p.dir, 'src.qmp.watch'), '--db', 'w.db', '--json', ...args], io);
  await vi.waitFor(() => expect(io.out()).toContain('"type":"attach"'), { timeout: 60_000, interval: 50 });
  return { io, done };
}

type Line = Record<string, unknown> & { type: string };

function lines(io: CapturedIo): Line[] {
  return io.out().trim().split('\n').map((l) => JSON.parse(l) as Line);
}

function readStore<T>(f: (s: Store) => T): T {
  return withStore(join(dir, 'w.db'), f);
}

const isEvent = (l: Line, name: string, status?: string): boolean =>
  l.type === 'event' && l['event'] === name && (status === undefined || (l['data'] as Record<string, unknown>)['status'] === status);
const action = (l: Line): string | undefined => (l.type === 'decision' ? (l['decision'] as { action: string }).action : undefined);

describe.skipIf(skip)(title('vfio-sla watch on a real QEMU migration'), () => {
  it('records a migration started by another client, the same records as an import of its QMP log', async () => {
    const p = await boot({ memMiB: 128, dirtyMiB: 32, dirtyRateMBps: 1 });
    const { io, done } = await startWatch(p, ['--qmp-log', 'src.qmp']);
    await p.startMigration();
    const code = await done;
    const info = await p.src.queryMigrate();
    console.info(`watch (following): exit ${code}, downtime ${info.downtime} ms, total-time ${info['total-time']} ms`);
    expect(code, io.err()).toBe(0);
    const end = lines(io).at(-1);
    expect(end).toMatchObject({ type: 'end', result: { end: 'completed', switchoverBy: 'qemu', downtimeMs: info.downtime } });
    const counts = readStore((s) => tableCounts(s));
    expect(counts.ram_progress).toBeGreaterThanOrEqual(1);
    expect(counts).toMatchObject({ transfers: 2, outcomes: 1, attempts: 1, rejects: 0 });
    expect(readStore((s) => outcomes(s))).toEqual([expect.objectContaining({ policy: 'qemu', deadlineMs: 300, actualBlackoutMs: info.downtime })]);

    const imported = captureIo(dir);
    expect(await runCli(['import', 'src.qmp', '--db', 'w.db'], imported)).toBe(0);
    // …and its attempt (QEMU's own rule, completed), and the source QEMU's stack, from its query-version at attach.
    const version = readStore((s) => listMigrations(s))[0]?.qemuVersion;
    expect(version).toMatch(/^\d+\.\d+\.\d+$/);
    const total = counts.ram_progress + counts.transfers + counts.outcomes + counts.attempts + 1;
    expect(imported.out()).toContain(`${total} records accepted (0 new, ${total} already stored), 0 rejected`);
    // Nothing was steered: QEMU's parameters are as they were, the events capability as the harness set it.
    expect(await p.src.queryMigrateParameters()).toMatchObject({ 'downtime-limit': 300, 'throttle-trigger-threshold': 50 });
  }, CASE_MS);

  it('with --drive holds the switchover until the governor commits, then QEMU switches', async () => {
    const p = await boot(BUSY_GUEST);
    const { io, done } = await startWatch(p, ['--drive', '--abort-without-model', '--deadline', '2s', '--alpha', '0.01', '--id', 'driven']);
    expect(await p.src.queryMigrateParameters()).toMatchObject({ 'downtime-limit': 1, 'throttle-trigger-threshold': 100 });
    await p.startMigration();
    const code = await done;
    const info = await p.src.queryMigrate();
    const out = lines(io);
    const commit = out.findIndex((l) => action(l) === 'commit');
    const release = out.findIndex((l) => l.type === 'limit' && l['action'] === 'release');
    const stop = out.findIndex((l) => isEvent(l, 'STOP'));
    const completed = out.findIndex((l) => isEvent(l, 'MIGRATION', 'completed'));
    console.info(
      `watch --drive: exit ${code}; passes before the commit ${out.slice(0, commit).filter((l) => isEvent(l, 'MIGRATION_PASS')).length}; ` +
        `commit at +${Number(out[commit]?.['tMs']).toFixed(0)} ms, STOP at +${Number(out[stop]?.['tMs']).toFixed(0)} ms; downtime ${info.downtime} ms`,
    );
    expect(code, io.err()).toBe(0);

    // The order on the QMP socket: commit decision → QEMU acknowledges the raised limit → STOP → completed.
    expect(commit).toBeGreaterThan(-1);
    expect(release).toBeGreaterThan(commit);
    expect(stop).toBeGreaterThan(release);
    expect(completed).toBeGreaterThan(stop);
    // Held through at least one of QEMU's own switchover checks (each pass ends with one).
    const passes = out.slice(0, commit).filter((l) => isEvent(l, 'MIGRATION_PASS')).map((l) => (l['data'] as { pass: number }).pass);
    expect(Math.max(...passes)).toBeGreaterThanOrEqual(2);
    expect(out.slice(0, commit).filter((l) => action(l) === 'commit')).toEqual([]);
    expect(out.at(-1)).toMatchObject({ type: 'end', result: { end: 'completed', switchoverBy: 'governor' } });

    const decided = out[commit] as Line & { atMs: number; decision: { predictedBlackoutMs: number } };
    expect(readStore((s) => outcomes(s, { migrationId: 'driven' }))).toEqual([
      {
        kind: 'outcome',
        migrationId: 'driven',
        policy: 'governor',
        deadlineMs: 2000,
        decidedAtMs: decided.atMs,
        predictedBlackoutMs: decided.decision.predictedBlackoutMs,
        actualBlackoutMs: info.downtime,
        met: (info.downtime ?? Infinity) <= 2000,
      },
    ]);
    expect(readStore((s) => ramProgress(s, 'driven')).map((r) => r.atMs)).toContain(decided.atMs);
    // Everything watch changed is back.
    expect(await p.src.queryMigrateParameters()).toMatchObject({ 'downtime-limit': 300, 'throttle-trigger-threshold': 50 });
    expect(await p.src.queryMigrateCapabilities()).toMatchObject({ 'auto-converge': false });
  }, CASE_MS);

  it('with --drive cancels a migration whose deadline the model says cannot be met, and exits 4', async () => {
    const p = await boot(BUSY_GUEST);
    const { io, done } = await startWatch(p, ['--drive', '--abort-without-model', '--deadline', '150ms', '--id', 'hopeless']);
    await p.startMigration();
    const code = await done;
    const out = lines(io);
    expect(code, io.err()).toBe(4);
    expect(io.err()).toContain('cancelled by vfio-sla watch --drive: governor abort DEADLINE_UNREACHABLE on 10 consecutive polls');
    expect(out.some((l) => l.type === 'note' && String(l['message']).includes('every decision will be abort'))).toBe(true);
    const cancel = out.findIndex((l) => l.type === 'cancel');
    expect(out.slice(0, cancel).filter((l) => l.type === 'decision').map(action)).toEqual(new Array(10).fill('abort'));
    expect(out.some((l) => isEvent(l, 'STOP'))).toBe(false);
    expect((await p.src.queryMigrate()).status).toBe('cancelled');
    expect(await p.src.queryStatus()).toMatchObject({ running: true });
    expect(readStore((s) => tableCounts(s))).toMatchObject({ transfers: 0, outcomes: 0 });
    expect(readStore((s) => ramProgress(s, 'hopeless')).length).toBeGreaterThan(0);
  }, CASE_MS);

  it('exits 1 with a clear message when the source QEMU dies mid-migration, keeping what it recorded', async () => {
    const p = await boot({ memMiB: 128, dirtyMiB: 32, dirtyRateMBps: 64 });
    await p.src.migrateSetParameters({ 'max-bandwidth': 16_000_000 }); // does not converge: the migration stays active
    const { io, done } = await startWatch(p, ['--id', 'killed']);
    await p.startMigration();
    await vi.waitFor(() => expect(lines(io).filter((l) => l.type === 'poll' || l.type === 'decision').length).toBeGreaterThanOrEqual(5), {
      timeout: MIGRATE_MS,
      interval: 100,
    });
    process.kill(p.srcProcess.pid ?? NaN, 'SIGKILL'); // a crash: no SHUTDOWN, no cancel, the socket just closes
    await p.srcProcess.exited;
    const code = await done;
    expect(code).toBe(1);
    expect(io.err()).toMatch(/^vfio-sla watch: QMP connection unix:.*src\.qmp\.watch closed \(QEMU exited, was killed, or dropped this client\) while the migration was active/);
    expect(lines(io).at(-1)).toMatchObject({ type: 'end', result: { end: 'qmp-closed', outcome: null } });
    expect(readStore((s) => ramProgress(s, 'killed')).length).toBeGreaterThanOrEqual(4);
    expect(readStore((s) => tableCounts(s))).toMatchObject({ transfers: 0, outcomes: 0 });
  }, CASE_MS);

  it('aims auto-converge at the advised throttle under TCG, where set-vcpu-dirty-limit is refused', async () => {
    const p = await boot({ memMiB: 128, dirtyMiB: 32, dirtyRateMBps: 64 });
    const lever = await ThrottleLever.arm(p.src, false);
    expect(lever.mechanism).toBe('auto-converge');
    await p.src.migrateSetParameters({ 'max-bandwidth': 16_000_000 });
    await p.startMigration();
    // Before QEMU's first throttle trigger (≥ 2 periods of ≥ 1 s): 63 % is reachable only through these parameters.
    const step = await lever.apply({ maxDirtyBytesPerS: 0.37 * 64e6, currentDirtyBytesPerS: 64e6, throttleFraction: 0.63 }, 0);
    expect(step).toMatchObject({ mechanism: 'auto-converge', action: 'throttle', cpuThrottlePercent: 63, why: expect.stringContaining('KVM') });
    await vi.waitFor(async () => expect((await p.src.queryMigrate())['cpu-throttle-percentage']).toBe(63), { timeout: MIGRATE_MS, interval: 100 });
    await lever.relax();
    expect(await p.src.queryMigrateParameters()).toMatchObject({ 'throttle-trigger-threshold': 100 });
    await p.src.migrateCancel();
    const run = await p.waitForMigration({ timeoutMs: MIGRATE_MS });
    expect(MIGRATION_FINAL_STATUSES.has(run.status)).toBe(true);
    expect(await lever.restore(false)).toEqual([]);
    expect(await p.src.queryMigrateCapabilities()).toMatchObject({ 'auto-converge': false });
    expect(await p.src.queryMigrateParameters()).toMatchObject({ 'throttle-trigger-threshold': 50, 'cpu-throttle-initial': 20, 'cpu-throttle-increment': 10 });
  }, CASE_MS);
});
