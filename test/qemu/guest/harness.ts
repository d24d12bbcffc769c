/**
 * Real-QEMU harness: a tiny TCG guest (guest-image.ts) on a source QEMU and a destination QEMU
 * started with `-incoming defer`, both driven through {@link QmpClient} over unix sockets, and a
 * migration between them over TCP on 127.0.0.1 with a port the destination picks.
 *
 * Both QEMUs get the same command line (same kernel/initramfs so option ROM sizes match), which
 * live migration requires. Everything lives in one temp dir; `stop()` — and a failed
 * `startPair()` — kill the processes and remove it.
 *
 * Known trap: QEMU < 9.0 under TCG may corrupt guest memory after migration (a TCG dirty-tracking
 * bug); assert on the migration (status, downtime, RAM statistics, events), not on the guest.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { filter, firstValueFrom, merge, of, race, throwError, timeout, timer, type Subscription } from 'rxjs';
import { QmpClient } from '../../../src/qemu/qmp-client.js';
import {
  MIGRATION_FINAL_STATUSES,
  isMigrationEvent,
  type MigrationInfo,
  type MigrationStatus,
} from '../../../src/qemu/qapi-migration.js';
import type { QmpReceivedEvent } from '../../../src/qemu/qmp-protocol.js';
import { qmpLogLines } from '../../../src/qemu/qmp-wire-log.js';
import { GUEST_READY_MARKER, buildInitramfs, findGuestTools, type GuestTools } from './guest-image.js';
import { QemuProcess } from './qemu-process.js';

export interface PairOptions {
  /** Guest RAM, MiB (128). */
  readonly memMiB?: number;
  /** Buffer the dirtier keeps dirtying, MiB (32). */
  readonly dirtyMiB?: number;
  /** Pages dirtied per second, as MB/s (10^6 bytes) (1). */
  readonly dirtyRateMBps?: number;
  /** Spawn → dirtier ready, ms (180 000: TCG on a loaded 2-core box). */
  readonly bootTimeoutMs?: number;
  /** QMP command timeout, ms (30 000). */
  readonly commandTimeoutMs?: number;
  /** Enable the `events` migration capability on both sides (true). */
  readonly migrationEvents?: boolean;
  /** Host tools; found with {@link findGuestTools} when omitted. */
  readonly tools?: GuestTools;
}

/** One `query-migrate` poll of the source, with the client's receive time (epoch ms). */
export interface MigrationPoll {
  readonly atMs: number;
  readonly info: MigrationInfo;
}

/** What a finished (or ended) migration looked like from the source. */
export interface MigrationRun {
  readonly uri: string;
  readonly status: MigrationStatus;
  /** Source `query-migrate` after the end. */
  readonly info: MigrationInfo;
  /** Source events from `migrate` to the end (`MIGRATION`, `MIGRATION_PASS`, `STOP`, …). */
  readonly events: readonly QmpReceivedEvent[];
  readonly polls: readonly MigrationPoll[];
  /** Wall time from the `migrate` command to the final status, ms. */
  readonly durationMs: number;
}

export interface WaitOptions {
  /** Give up after this long, ms (120 000). */
  readonly timeoutMs?: number;
  /** `query-migrate` poll period, ms (250). */
  readonly pollMs?: number;
}

export interface GuestPair {
  readonly src: QmpClient;
  readonly dst: QmpClient;
  readonly srcProcess: QemuProcess;
  readonly dstProcess: QemuProcess;
  readonly dir: string;
  /** Source spawn → dirtier ready, ms. */
  readonly bootMs: number;
  /** Every event of each side since connect. */
  readonly srcEvents: readonly QmpReceivedEvent[];
  readonly dstEvents: readonly QmpReceivedEvent[];
  /** The source's QMP wire log so far (form 1 of design.md "QMP logs"), one line per entry. */
  readonly srcWireLog: readonly string[];
  /** `migrate-incoming tcp:127.0.0.1:0` on the destination, then `migrate` on the source; returns the URI. */
  startMigration(): Promise<string>;
  /** Polls and listens until the source's migration reaches completed, failed or cancelled. */
  waitForMigration(opts?: WaitOptions): Promise<MigrationRun>;
  /**
   * Resolves once `cond(srcEvents)` holds, checked now and on every source event; rejects after
   * `timeoutMs`.
   */
  untilSrcEvents(cond: (events: readonly QmpReceivedEvent[]) => boolean, timeoutMs: number): Promise<void>;
  /** `startMigration()` then `waitForMigration()`. */
  migrate(opts?: WaitOptions): Promise<MigrationRun>;
  /** Kills both QEMUs, closes the clients, removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

function qemuArgs(tools: GuestTools, initrd: string, qmpPath: string, o: Required<Pick<PairOptions, 'memMiB' | 'dirtyMiB' | 'dirtyRateMBps'>>): string[] {
  return [
    '-accel', 'tcg',
    '-machine', 'pc',
    '-m', String(o.memMiB),
    '-smp', '1',
    '-nodefaults',
    '-no-user-config',
    '-display', 'none',
    '-serial', 'stdio',
    '-no-reboot',
    '-kernel', tools.kernel,
    '-initrd', initrd,
    '-append', `console=ttyS0 panic=-1 quiet dirty_mib=${o.dirtyMiB} dirty_rate_mbps=${o.dirtyRateMBps}`,
    '-qmp', `unix:${qmpPath},server=on,wait=off`,
  ];
}

async function connectTo(path: string, proc: QemuProcess, commandTimeoutMs: number): Promise<QmpClient> {
  const client = new QmpClient({
    endpoint: { path },
    commandTimeoutMs,
    connectRetry: { maxAttempts: 150, initialDelayMs: 20, maxDelayMs: 200 },
  });
  const died = proc.exited.then(() => {
    throw new Error(`QEMU exited before its QMP socket answered: ${proc.describe()}`);
  });
  try {
    await Promise.race([client.connect(), died]);
  } catch (e) {
    await client.close();
    throw e;
  }
  died.catch(() => undefined);
  return client;
}

/**
 * `query-migrate` once the completion statistics are in. QEMU 7.2 sets `completed` in
 * `migration_completion()` and fills `total-time`/`downtime` only later, in
 * `migration_iteration_finish()` → `migration_calculate_complete()`, without the BQL; a query in
 * between reads `completed` with `total-time: 0, downtime: 0` (seen under load). Upstream later
 * moved the state change into `migration_completion_end()` under the BQL.
 */
async function settledInfo(src: QmpClient, maxWaitMs = 10_000): Promise<MigrationInfo> {
  const until = performance.now() + maxWaitMs;
  let info = await src.queryMigrate();
  while (info.status === 'completed' && !((info['total-time'] ?? 0) > 0) && performance.now() < until) {
    await sleep(50);
    info = await src.queryMigrate();
  }
  return info;
}

/** Boots the source guest and the waiting destination. Throws (after cleaning up) if either fails. */
export async function startPair(opts: PairOptions = {}): Promise<GuestPair> {
  const found = opts.tools === undefined ? findGuestTools() : ({ ok: true, tools: opts.tools } as const);
  if (!found.ok) throw new Error(`real-QEMU harness: missing ${found.missing.join('; ')}`);
  const tools = found.tools;
  const o = { memMiB: opts.memMiB ?? 128, dirtyMiB: opts.dirtyMiB ?? 32, dirtyRateMBps: opts.dirtyRateMBps ?? 1 };
  const commandTimeoutMs = opts.commandTimeoutMs ?? 30_000;
  const dir = mkdtempSync(join(tmpdir(), 'vfio-sla-guest-'));
  const procs: QemuProcess[] = [];
  const clients: QmpClient[] = [];
  const subs: Subscription[] = [];
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    for (const s of subs) s.unsubscribe();
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(procs.map((p) => p.kill()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const initrd = await buildInitramfs(dir, tools);
    const srcPath = join(dir, 'src.qmp');
    const dstPath = join(dir, 'dst.qmp');
    const srcProcess = QemuProcess.spawn('source', tools.qemu, qemuArgs(tools, initrd, srcPath, o));
    procs.push(srcProcess);
    const dstProcess = QemuProcess.spawn('destination', tools.qemu, [...qemuArgs(tools, initrd, dstPath, o), '-incoming', 'defer']);
    procs.push(dstProcess);
    const src = await connectTo(srcPath, srcProcess, commandTimeoutMs);
    clients.push(src);
    const dst = await connectTo(dstPath, dstProcess, commandTimeoutMs);
    clients.push(dst);
    const srcEvents: QmpReceivedEvent[] = [];
    const dstEvents: QmpReceivedEvent[] = [];
    const srcWireLog: string[] = [];
    subs.push(src.events$.subscribe((e) => srcEvents.push(e)));
    subs.push(dst.events$.subscribe((e) => dstEvents.push(e)));
    subs.push(qmpLogLines(src.wire$).subscribe((l) => srcWireLog.push(l)));
    const bootMs = await srcProcess.waitForConsole(GUEST_READY_MARKER, opts.bootTimeoutMs ?? 180_000);
    if (opts.migrationEvents !== false) {
      await Promise.all([src.migrateSetCapabilities({ events: true }), dst.migrateSetCapabilities({ events: true })]);
    }

    let started: { uri: string; atMs: number; firstEvent: number } | undefined;
    const startMigration = async (): Promise<string> => {
      await dst.migrateIncoming('tcp:127.0.0.1:0');
      const port = (await dst.queryMigrate())['socket-address']?.find((a) => a.port !== undefined)?.port;
      if (port === undefined) throw new Error('destination reports no listening port (query-migrate socket-address)');
      const uri = `tcp:127.0.0.1:${port}`;
      started = { uri, atMs: performance.now(), firstEvent: srcEvents.length };
      await src.migrate(uri);
      return uri;
    };

    const waitForMigration = async (w: WaitOptions = {}): Promise<MigrationRun> => {
      if (started === undefined) throw new Error('waitForMigration() before startMigration()');
      const run = started;
      const timeoutMs = w.timeoutMs ?? 120_000;
      const pollMs = w.pollMs ?? 250;
      const polls: MigrationPoll[] = [];
      const finalEvent = (): MigrationStatus | undefined =>
        srcEvents
          .slice(run.firstEvent)
          .filter(isMigrationEvent)
          .map((e) => e.data.status)
          .find((s) => MIGRATION_FINAL_STATUSES.has(s));
      let status = finalEvent();
      let endedAtMs = performance.now();
      while (status === undefined) {
        if (performance.now() - run.atMs > timeoutMs) {
          throw new Error(`migration not finished within ${timeoutMs} ms; last poll ${JSON.stringify(polls.at(-1)?.info)}`);
        }
        const info = await src.queryMigrate();
        polls.push({ atMs: Date.now(), info });
        endedAtMs = performance.now();
        status = finalEvent();
        if (status !== undefined) break;
        const polled = info.status;
        if (polled !== undefined && MIGRATION_FINAL_STATUSES.has(polled)) {
          // The MIGRATION event for this status is on its way: give it a moment, then go on.
          const itsEvent = src.events$.pipe(filter((e) => isMigrationEvent(e) && e.data.status === polled));
          await firstValueFrom(race(itsEvent, timer(2000)), { defaultValue: undefined });
          status = polled;
          break;
        }
        await firstValueFrom(race(src.events$.pipe(filter(isMigrationEvent)), timer(pollMs)), { defaultValue: undefined });
        endedAtMs = performance.now();
        status = finalEvent();
      }
      const durationMs = endedAtMs - run.atMs;
      const info = await settledInfo(src);
      return { uri: run.uri, status, info, events: srcEvents.slice(run.firstEvent), polls, durationMs };
    };

    const untilSrcEvents = async (cond: (events: readonly QmpReceivedEvent[]) => boolean, timeoutMs: number): Promise<void> => {
      await firstValueFrom(
        merge(of(undefined), src.events$).pipe(
          filter(() => cond(srcEvents)),
          timeout({
            first: timeoutMs,
            with: () => throwError(() => new Error(`source events not as awaited within ${timeoutMs} ms: ${srcEvents.map((e) => e.event).join(' ')}`)),
          }),
        ),
      );
    };

    return {
      src,
      dst,
      srcProcess,
      dstProcess,
      dir,
      bootMs,
      srcEvents,
      dstEvents,
      srcWireLog,
      startMigration,
      waitForMigration,
      untilSrcEvents,
      migrate: async (w) => {
        await startMigration();
        return waitForMigration(w);
      },
      stop,
    };
  } catch (e) {
    const detail = procs.map((p) => p.describe()).join('\n');
    await stop();
    throw e instanceof Error && !e.message.includes('--- stderr ---') ? new Error(`${e.message}\n${detail}`, { cause: e }) : e;
  }
}
