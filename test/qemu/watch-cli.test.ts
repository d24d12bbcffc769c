/** `vfio-sla watch` as a command: flags, output, exit status, the store — against a scripted QEMU. */
import Database from 'better-sqlite3';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { listMigrations, tableCounts } from '../../src/store/inventory.js';
import { attempts, outcomes, ramProgress } from '../../src/store/queries.js';
import type { Store } from '../../src/store/store.js';
import { captureIo, type CapturedIo } from '../cli/io.js';
import { FakeQemu, type FakeMigrationOptions } from './watch-fake-qemu.js';
import { withStore } from '../store/fixtures.js';

let dir: string;
const fakes: FakeQemu[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'vfio-sla-watch-cli-'));
});
afterEach(async () => {
  await Promise.all(fakes.splice(0).map((f) => f.close()));
  rmSync(dir, { recursive: true, force: true });
});

/** Runs `vfio-sla watch --qmp <fake> ...args`; the fake's migration starts once watch has attached. */
async function watchCli(fake: FakeMigrationOptions, args: string[], during?: (fq: FakeQemu, io: CapturedIo) => Promise<void>): Promise<{ code: number; io: CapturedIo; fq: FakeQemu }> {
  const fq = await FakeQemu.start(fake);
  fakes.push(fq);
  const io = captureIo(dir);
  const done = runCli(['watch', '--qmp', fq.path, '--db', 'w.db', ...args], io);
  await vi.waitFor(() => expect(io.out()).toMatch(/"type":"attach"|watch: attached/), { timeout: 20_000, interval: 20 });
  fq.startMigration();
  await during?.(fq, io);
  return { code: await done, io, fq };
}

function jsonLines(io: CapturedIo): Record<string, unknown>[] {
  return io.out().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

function readStore<T>(f: (s: Store) => T): T {
  return withStore(join(dir, 'w.db'), f);
}

const converging = (n: number): number => [100e6, 60e6, 30e6, 8e6][n] ?? 4e6;

describe('vfio-sla watch', () => {
  it.each([
    [[], '--qmp <socket> is required'],
    [['--qmp', 'x.sock', '--deadline', '300'], "--deadline: '300' is not a duration"],
    [['--qmp', 'x.sock', '--alpha', '1'], '--alpha must be a number in (0, 1)'],
    [['--qmp', 'x.sock', '--on-abort', 'cancel'], '--on-abort needs --drive'],
    [['--qmp', 'x.sock', '--guest-timeout', '0ms'], '--guest-timeout must be > 0'],
    [['--qmp', 'x.sock', '--drive', '--on-abort', 'pray'], '--on-abort must be cancel or release'],
    [['--qmp', 'x.sock', '--abort-without-model'], '--abort-without-model needs --drive'],
    [['--qmp', 'x.sock', '--qmp-log', '/nonexistent/x.qmp'], "--qmp-log: cannot write '/nonexistent/x.qmp'"],
    [['--qmp', 'x.sock', '--dest-vfio-trace', '/tmp/d.log'], '--dest-vfio-trace needs --dest-qmp'],
  ])('refuses %j with exit status 2', async (args, message) => {
    const io = captureIo(dir);
    expect(await runCli(['watch', ...args], io)).toBe(2);
    expect(io.err()).toContain(message);
  });

  it('follows a migration to completion, prints JSON lines, stores what `import` of its --qmp-log would, exit 0', async () => {
    const { code, io } = await watchCli({ remainingBytes: converging }, ['--json', '--qmp-log', 'vm1.qmp']);
    expect(code).toBe(0);
    const lines = jsonLines(io);
    expect(lines[0]).toMatchObject({ type: 'model', source: 'priors', deadlineMs: 300, alpha: 0.01 });
    expect(lines[1]).toMatchObject({ type: 'attach', migrationId: `${dir.split('/').at(-1)}/vm1`, drive: false });
    expect(lines.at(-1)).toMatchObject({ type: 'end', result: { end: 'completed', downtimeMs: 25 } });
    const counts = readStore((s) => tableCounts(s));
    expect(counts).toMatchObject({ ram_progress: 2, transfers: 2, outcomes: 1, attempts: 1, rejects: 0 });

    const again = captureIo(dir);
    expect(await runCli(['import', 'vm1.qmp', '--db', 'w.db'], again)).toBe(0);
    // 2 ram, 2 transfer, 1 outcome, 1 attempt and the source QEMU's stack (its query-version at attach).
    expect(again.out()).toContain('7 records accepted (0 new, 7 already stored), 0 rejected');
    expect(readStore((s) => listMigrations(s))[0]).toMatchObject({ qemuVersion: '7.2.0' });
  });

  it('prints text by default and says where the model came from', async () => {
    const { code, io } = await watchCli({ remainingBytes: converging }, ['--id', 'vm1/try1']);
    expect(code).toBe(0);
    const out = io.out();
    expect(out).toMatch(/^model: 'priors', priors .*priors\.json \(no telemetry in .*w\.db to fit\)\n/);
    expect(out).toContain('watch: attached to unix:');
    expect(out).toContain('migration id vm1/try1');
    expect(out).toMatch(/event MIGRATION \{"status":"completed"\}/);
    expect(out).toMatch(/migration vm1\/try1 completed: downtime 25 ms, met the 300 ms deadline .*switchover by QEMU's own rule; sent 2 ram, 2 transfer, 1 outcome, 1 attempt record\(s\) to the store\n$/);
    expect(io.err()).toBe('');
  });

  it('holds every decision to a --guest-timeout below the deadline and says it binds', async () => {
    const { code, io } = await watchCli({ remainingBytes: converging }, ['--json', '--guest-timeout', '1ms']);
    expect(code).toBe(0);
    const lines = jsonLines(io);
    expect(lines[0]).toMatchObject({ type: 'model', deadlineMs: 300, guestTimeoutMs: 1 });
    const decisions = lines.filter((l) => l['type'] === 'decision').map((l) => l['decision'] as Record<string, unknown>);
    expect(decisions.length).toBeGreaterThan(0);
    for (const d of decisions) expect(d).toMatchObject({ bindingLimit: 'guest-timeout', guestTimeoutMs: 1, deadlineMs: 300 });
    expect(decisions.some((d) => d['action'] === 'commit')).toBe(false);
    const text = await watchCli({ remainingBytes: converging }, ['--guest-timeout', '1ms', '--id', 'text']);
    expect(text.io.out()).toMatch(/slo: blackout ≤ 300 ms .* and ≤ guest timeout 1 ms/);
    expect(text.io.out()).toMatch(/: bound .* > guest timeout 1\.00 ms/);
  });

  it('prints the time to completion of each decision that expects one', async () => {
    const { io } = await watchCli({ remainingBytes: converging }, ['--deadline', '10s', '--id', 'total']);
    // A commit completes with its blackout: the median and the bound are the blackout's.
    expect(io.out()).toMatch(/ — commit FITS: bound ([\d.]+ m?s) \(median ([\d.]+ m?s)\) ≤ 10\.0+ s; done in \2, bound \1/);
  });

  it('decides with a model fitted from the database once it holds telemetry', async () => {
    await watchCli({ remainingBytes: converging }, ['--id', 'first']);
    const { io } = await watchCli({ remainingBytes: converging }, ['--id', 'second', '--json']);
    expect(jsonLines(io)[0]).toMatchObject({ type: 'model', source: 'fit' });
  });

  it('with --drive records the governor outcome of the commit it released', async () => {
    const { code, io } = await watchCli({ remainingBytes: converging }, ['--drive', '--abort-without-model', '--deadline', '1.2s', '--json', '--id', 'driven']);
    expect(code).toBe(0);
    const commit = jsonLines(io).find((l) => l['type'] === 'decision' && (l['decision'] as { action: string }).action === 'commit');
    const [stored] = readStore((s) => outcomes(s, { migrationId: 'driven' }));
    expect(stored).toMatchObject({ policy: 'governor', deadlineMs: 1200, decidedAtMs: commit?.['atMs'], actualBlackoutMs: 25, met: true });
    expect(readStore((s) => ramProgress(s, 'driven')).map((r) => r.atMs)).toContain(commit?.['atMs']);
  });

  it('with --drive writes the governor outcome and attempt into its --qmp-log, so an import of the log stores them, not QEMU\'s', async () => {
    const { code } = await watchCli({ remainingBytes: converging }, ['--drive', '--abort-without-model', '--deadline', '1.2s', '--qmp-log', 'steered.qmp']);
    expect(code).toBe(0);
    const id = `${dir.split('/').at(-1)}/steered`;
    const policies = (): string[][] => readStore((s) => [outcomes(s, { migrationId: id }).map((o) => o.policy), attempts(s, { migrationId: id }).map((a) => a.policy)]);
    expect(policies()).toEqual([['governor'], ['governor']]);
    const again = captureIo(dir);
    expect(await runCli(['import', 'steered.qmp', '--db', 'w.db'], again)).toBe(0);
    expect(again.out()).toMatch(/(\d+) records accepted \(0 new, \1 already stored\), 0 rejected/);
    expect(policies()).toEqual([['governor'], ['governor']]);
  });

  it.each([
    ['the migration fails', { remainingBytes: (): number => 50e6, failAfterPolls: 3 }, [], 3, /migration .* failed in QEMU: Unable to write to socket: Broken pipe/],
    ['--drive --abort-without-model cancels it', { remainingBytes: (): number => 50e6 }, ['--drive', '--abort-without-model', '--deadline', '100ms'], 4, /cancelled by vfio-sla watch --drive: governor abort DEADLINE_UNREACHABLE/],
  ] as const)('exits non-zero when %s', async (_what, fake, args, status, message) => {
    const { code, io } = await watchCli(fake, [...args]);
    expect(code).toBe(status);
    expect(io.err()).toMatch(message);
  });

  it('with --drive and only the priors observes, says why, and lets QEMU finish (exit 0)', async () => {
    const { code, io } = await watchCli({ remainingBytes: (n) => (n < 15 ? 50e6 : 30e6) }, ['--drive', '--deadline', '100ms']);
    expect(code).toBe(0);
    expect(io.out()).toContain("--drive observes only: the model has no calibration (priors, or fitted from too few migrations); QEMU keeps its own switchover rule and nothing is cancelled (--abort-without-model to steer anyway)");
    expect(io.out()).toMatch(/switchover by QEMU's own rule/);
  });

  it('leaves an existing --qmp-log untouched when the store cannot be opened', async () => {
    const newer = new Database(join(dir, 'newer.db'));
    newer.pragma('user_version = 999');
    newer.close();
    writeFileSync(join(dir, 'old.qmp'), 'an earlier run\n');
    const io = captureIo(dir);
    const code = await runCli(['watch', '--qmp', join(dir, 'none.sock'), '--db', 'newer.db', '--model', join(import.meta.dirname, '../../models/priors.json'), '--qmp-log', 'old.qmp'], io);
    expect(code).toBe(1);
    expect(io.err()).toMatch(/newer\.db/);
    expect(readFileSync(join(dir, 'old.qmp'), 'utf8')).toBe('an earlier run\n');
  });

  it('exits 1 naming what happened when QEMU goes away mid-migration, and keeps what it recorded', async () => {
    const { code, io, fq } = await watchCli({ remainingBytes: () => 50e6 }, ['--id', 'lost'], async (fake, out) => {
      await vi.waitFor(() => expect(out.out().match(/active pass/g)?.length ?? 0).toBeGreaterThanOrEqual(2), { timeout: 20_000, interval: 20 });
      fake.srv.dropConnection();
    });
    expect(code).toBe(1);
    expect(io.err()).toBe(`vfio-sla watch: QMP connection unix:${fq.path} closed (QEMU exited, was killed, or dropped this client) while the migration was active\n`);
    expect(readStore((s) => tableCounts(s))).toMatchObject({ outcomes: 0, transfers: 0 });
    expect(readStore((s) => ramProgress(s, 'lost')).length).toBeGreaterThanOrEqual(2);
  });

  it('with --vfio-trace, stores the VFIO device’s arcs and per-iteration sizes beside RAM', async () => {
    const trace = join(dir, 'qemu-trace.log');
    const { code, fq } = await watchCli({ remainingBytes: converging, vfio: { stopCopyBytes: () => 16384 } }, ['--vfio-trace', trace, '--json']);
    expect(code).toBe(0);
    expect(fq.vfio?.logFile).toBe(trace);
    const counts = readStore((s) => tableCounts(s));
    expect(counts).toMatchObject({ arcs: 4 });
    expect(counts.sizes).toBeGreaterThanOrEqual(2);
  });
});

describe('vfio-sla watch and the store', () => {
  it('does not claim records it sent were stored when the store rejected them all (exit 1)', async () => {
    // A migration id with a control character: every record is rejected by validation.
    const { code, io } = await watchCli({ remainingBytes: converging }, ['--id', 'vm1\u0007bell']);
    expect(code).toBe(1);
    expect(io.out()).toMatch(/sent 2 ram, 2 transfer, 1 outcome, 1 attempt record\(s\) to the store\n$/);
    // The five of the migration, its stack record and its attempt.
    expect(io.err()).toContain('vfio-sla watch: 7 of 7 records were rejected, not stored');
    expect(readStore((s) => tableCounts(s))).toMatchObject({ ram_progress: 0, rejects: 7 });
  });
});

describe('vfio-sla watch run identity', () => {
  it('refuses a --qmp-log path whose derived id an earlier run already has, leaving that log untouched (exit 2)', async () => {
    expect((await watchCli({ remainingBytes: converging }, ['--qmp-log', 'vm1.qmp'])).code).toBe(0);
    const first = readFileSync(join(dir, 'vm1.qmp'), 'utf8');
    const io = captureIo(dir);
    const code = await runCli(['watch', '--qmp', join(dir, 'none.sock'), '--db', 'w.db', '--qmp-log', 'vm1.qmp'], io);
    expect(code).toBe(2);
    expect(io.err()).toContain(`--qmp-log: migration id '${dir.split('/').at(-1)}/vm1' (from the log's path) is already in the store from an earlier run`);
    expect(readFileSync(join(dir, 'vm1.qmp'), 'utf8')).toBe(first);
  });
});
