import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { summariseAttempts } from '../../src/report/attempt-stats.js';
import { writeReport } from '../../src/report/build-report.js';
import { Store } from '../../src/store/store.js';
import { captureIo } from '../cli/io.js';
import { attempt, outcome, pipelineItems as items, tempDb } from '../store/fixtures.js';

const governor = [
  attempt({ migrationId: 'a', status: 'completed', reason: 'switched over', totalTimeMs: 10_000 }),
  attempt({ migrationId: 'b', status: 'completed', reason: 'switched over', totalTimeMs: 20_000 }),
  attempt({ migrationId: 'c', status: 'aborted', reason: 'DEADLINE_UNREACHABLE', totalTimeMs: 100 }),
  attempt({ migrationId: 'd', status: 'aborted', reason: 'DEADLINE_UNREACHABLE', totalTimeMs: 100 }),
  attempt({ migrationId: 'e', status: 'aborted', reason: 'BUDGET_SPENT', totalTimeMs: 60_000 }),
  attempt({ migrationId: 'f', status: 'failed', reason: 'device needs reset', totalTimeMs: 9_800 }),
];
const governorOutcomes = [outcome({ migrationId: 'a', met: true }), outcome({ migrationId: 'b', met: false, actualBlackoutMs: 400 })];

describe('summariseAttempts', () => {
  it('counts every attempt: completed, met, missed, aborted by reason, failed, and the time spent', () => {
    const [s] = summariseAttempts(governor, governorOutcomes);
    expect(s).toMatchObject({
      policy: 'governor',
      attempted: 6,
      completed: 2,
      met: 1,
      missed: 1,
      aborted: 3,
      cancelled: 0,
      failed: 1,
      attemptsRecorded: true,
      abortReasons: [
        { reason: 'DEADLINE_UNREACHABLE', count: 2 },
        { reason: 'BUDGET_SPENT', count: 1 },
      ],
    });
    expect(s!.missRate).toBeCloseTo(1 / 6, 12);
    expect(s!.abortedShare).toBeCloseTo(3 / 6, 12);
    expect(s!.usefulShare).toBeCloseTo(1 / 6, 12);
    expect(s!.totalTimeMs).toBe(100_000);
    expect(s!.meanTotalTimeMs).toBeCloseTo(100_000 / 6, 9);
  });

  it('counts the outcomes as attempts for a policy without attempt records, and says so', () => {
    const [s] = summariseAttempts([], [outcome({ migrationId: 'x', policy: 'qemu' }), outcome({ migrationId: 'y', policy: 'qemu', met: false })]);
    expect(s).toMatchObject({ policy: 'qemu', attempted: 2, completed: 2, met: 1, missed: 1, aborted: 0, attemptsRecorded: false });
    expect(s!.meanTotalTimeMs).toBeNaN();
  });
});

describe('vfio-sla stats: attempts', () => {
  let tmp: ReturnType<typeof tempDb>;
  beforeEach(() => {
    tmp = tempDb('vfio-sla-attempts-');
    const store = Store.open(tmp.db);
    store.writeBatch(items([...governor, ...governorOutcomes]));
    store.close();
  });
  afterEach(() => tmp.cleanup());

  it('shows aborts beside misses per policy, in JSON and in the table', async () => {
    const io = captureIo(tmp.dir);
    expect(await runCli(['stats', '--db', tmp.db, '--only', 'attempts', '--format', 'json'], io)).toBe(0);
    const json = JSON.parse(io.out()) as { attempts: Array<Record<string, unknown>> };
    expect(json.attempts).toHaveLength(1);
    expect(json.attempts[0]).toMatchObject({ policy: 'governor', attempted: 6, met: 1, missed: 1, aborted: 3, failed: 1 });

    const text = captureIo(tmp.dir);
    expect(await runCli(['stats', '--db', tmp.db, '--only', 'attempts'], text)).toBe(0);
    expect(text.out()).toContain('Attempts by policy: 6 attempts');
    expect(text.out()).toMatch(/aborted share/);
    expect(text.out()).toContain('DEADLINE_UNREACHABLE 2, BUDGET_SPENT 1');
  });

  it('narrows attempts like outcomes: to a migration prefix and a policy', async () => {
    const io = captureIo(tmp.dir);
    expect(await runCli(['stats', '--db', tmp.db, '--only', 'attempts', '--format', 'json', '--migration-prefix', 'c'], io)).toBe(0);
    expect((JSON.parse(io.out()) as { attempts: Array<Record<string, unknown>> }).attempts).toEqual([
      expect.objectContaining({ policy: 'governor', attempted: 1, aborted: 1, met: 0 }),
    ]);
    const none = captureIo(tmp.dir);
    expect(await runCli(['stats', '--db', tmp.db, '--only', 'attempts', '--format', 'json', '--policy', 'qemu'], none)).toBe(0);
    expect((JSON.parse(none.out()) as { attempts: unknown[] }).attempts).toEqual([]);
  });
});

describe('the HTML report: attempts', () => {
  it('has an attempts table per policy with the aborted share and the time beside the miss rate', async () => {
    const tmp = tempDb('vfio-sla-attempts-report-');
    try {
      const store = Store.open(tmp.db);
      store.writeBatch(items([...governor, ...governorOutcomes]));
      const out = join(tmp.dir, 'r.html');
      await writeReport(store, out, { title: 't' });
      store.close();
      const html = readFileSync(out, 'utf8');
      const section = html.slice(html.indexOf('<section id="attempts">'), html.indexOf('<section id="policies">'));
      expect(section).toContain('aborted share');
      expect(section).toContain('miss rate');
      expect(section).toContain('mean total time s');
      expect(section).toContain('DEADLINE_UNREACHABLE 2, BUDGET_SPENT 1');
      expect(section).toContain('50.0');
    } finally {
      tmp.cleanup();
    }
  });
});
