import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { attempts, outcomes, listMigrations, iterateArcs } from '../../src/store/index.js';
import { openStore } from '../../src/store/store.js';
import { POLICY_NAMES, runFleetJob, type FleetJobOptions, type FleetJobResult } from '../../src/app/fleet-job.js';
import { DEFAULT_FLEET_MIX } from '../../src/sim/fleet/vm-spec.js';
import { formatJobReport, policyTable } from '../../src/cli/fleet-table.js';
import { tempDb } from '../store/fixtures.js';
import { captureIo } from '../cli/io.js';

let tmp: ReturnType<typeof tempDb>;
let result: FleetJobResult;

/** Small guests keep the budget (150 s/GB) and so the suite short. */
const small = (dbPath: string): FleetJobOptions => ({
  migrations: 8,
  trainingMigrations: 30,
  seed: 3,
  dbPath,
  alpha: 0.01,
  fittedAt: '2026-01-01T00:00:00.000Z',
  mix: { ...DEFAULT_FLEET_MIX, ramGiB: [4, 8] },
});

beforeAll(async () => {
  tmp = tempDb('vfio-sla-fleet-');
  result = await runFleetJob(small(tmp.db));
});
afterAll(() => tmp.cleanup());

describe('the fleet job', () => {
  it('records the training fleet and the held-out replays through the pipeline, every record accepted', () => {
    expect(result.recordsRejected).toBe(0);
    expect(result.training.recordsPushed).toBeGreaterThan(100);
    const store = openStore(tmp.db, { readonly: true });
    try {
      const ids = listMigrations(store).map((m) => m.migrationId);
      expect(ids.filter((id) => id.startsWith('demo/s3/train/vm-'))).toHaveLength(30);
      for (const policy of POLICY_NAMES) {
        expect(ids.filter((id) => id.startsWith(`demo/s3/heldout/${policy}/vm-`))).toHaveLength(8);
        const completed = result.policies.find((p) => p.policy === policy)!.completed;
        const stored = outcomes(store, { policy }).filter((o) => o.migrationId.startsWith('demo/s3/heldout/'));
        expect(stored).toHaveLength(completed);
      }
      expect(outcomes(store, { policy: 'qemu' }).filter((o) => o.migrationId.startsWith('demo/s3/train/'))).toHaveLength(result.training.completed);
      let arcs = 0;
      for (const a of iterateArcs(store)) if (a.to === 'STOP_COPY') arcs++;
      expect(arcs).toBeGreaterThan(0);
    } finally {
      store.close();
    }
  });

  it('stores how every attempt ended, aborted ones with their reason, total time and last bound', () => {
    const store = openStore(tmp.db, { readonly: true });
    try {
      for (const name of POLICY_NAMES) {
        const stored = attempts(store, { policy: name }).filter((a) => a.migrationId.startsWith('demo/s3/heldout/'));
        const results = result.results[name];
        expect(stored).toHaveLength(results.length);
        const byVm = new Map(stored.map((a) => [a.migrationId.split('/').pop(), a]));
        for (const r of results) {
          const a = byVm.get(r.vmId)!;
          expect(a.status).toBe(r.status);
          expect(a.totalTimeMs).toBe(r.totalTimeMs);
          expect(a.reason).toBe(r.abortReason ?? 'switched over');
        }
      }
      const govAborted = attempts(store, { policy: 'governor' }).filter((a) => a.migrationId.startsWith('demo/s3/heldout/') && a.status === 'aborted');
      expect(govAborted.length).toBe(result.policies[0]!.aborted);
      for (const a of govAborted.filter((x) => x.reason === 'DEADLINE_UNREACHABLE')) expect(a.predictedBlackoutMs).toBeGreaterThan(a.deadlineMs);
    } finally {
      store.close();
    }
  });

  it('fits the governor model from the store: arcs of the devices seen, a learned link', () => {
    expect(Object.keys(result.model.arcs).sort()).toEqual(['generic-nic', 'mlx5-cx7', 'qat-vf']);
    expect(result.model.links['default']?.n).toBe(result.training.completed);
    // Every training VM named its link: each link seen has its own rate, their blackouts adding up.
    const named = Object.entries(result.model.links).filter(([name]) => name !== 'default');
    expect(named.length).toBeGreaterThan(1);
    expect(named.reduce((s, [, l]) => s + l.n, 0)).toBe(result.training.completed);
    expect(result.model.calibration?.links).not.toContain('default');
    expect(result.model.provenance).toContain('demo/s3/train/');
  });

  it('replays the same held-out VMs under every policy', () => {
    expect(result.policies.map((p) => p.policy)).toEqual(['governor', 'qemu', 'kubevirt', 'oracle', 'oracle-throttle']);
    for (const p of result.policies) {
      expect(p.attempted).toBe(8);
      expect(p.completed + p.aborted).toBe(8);
    }
    const ids = (name: keyof FleetJobResult['results']) => result.results[name].map((r) => r.vmId);
    expect(ids('qemu')).toEqual(ids('governor'));
    expect(ids('oracle')).toEqual(ids('governor'));
    expect(result.policies[3]!.missed).toBe(0);
    expect(result.policies[4]!.missed).toBe(0);
    // Throttling is a lever the plain oracle lacks: with it, never fewer switchovers in time.
    expect(result.policies[4]!.usefulShare).toBeGreaterThanOrEqual(result.policies[3]!.usefulShare);
    for (const p of result.policies) expect(p.usefulShare).toBeCloseTo((p.completed - p.missed) / p.attempted, 12);
  });

  it('gives the same numbers for the same seed', async () => {
    const again = tempDb('vfio-sla-fleet-');
    try {
      const r = await runFleetJob(small(again.db));
      expect(r.policies).toEqual(result.policies);
      // The provenance names the database file; everything fitted is the same.
      expect({ ...r.model, provenance: '' }).toEqual({ ...result.model, provenance: '' });
    } finally {
      again.cleanup();
    }
  });

  it("dates its records at the run's wall time, and a re-run with the seed replaces the earlier run", async () => {
    const startedAtMs = Date.UTC(2026, 11, 1, 9, 30);
    const rerun = await runFleetJob({ ...small(tmp.db), startedAtMs });
    expect(rerun.replacedMigrations).toBe(30 + 5 * 8);
    expect(rerun.policies).toEqual(result.policies);
    expect(formatJobReport(rerun)).toContain('Dated 2026-12-01T09:30:00.000Z (the run\'s wall time); replaced the 70 migrations of an earlier run with seed 3');
    const store = openStore(tmp.db, { readonly: true });
    try {
      expect(listMigrations(store)).toHaveLength(70);
      const starts = [...iterateArcs(store)].map((a) => a.startedAtMs);
      expect(Math.min(...starts)).toBeGreaterThanOrEqual(startedAtMs);
      expect(Math.max(...starts)).toBeLessThan(startedAtMs + 86_400_000);
      const decided = outcomes(store).map((o) => o.decidedAtMs);
      expect(Math.min(...decided)).toBeGreaterThan(startedAtMs);
    } finally {
      store.close();
    }
  });

  it('prints an aligned table with one row per policy', () => {
    const lines = policyTable(result.policies).split('\n');
    expect(lines).toHaveLength(7);
    expect(lines[0]).toMatch(/^policy\s+useful\s+miss rate\s+missed\/completed\s+blackout p50\s+blackout p99\s+mean total time\s+aborted\s+throttled$/);
    expect(new Set(lines.map((l) => l.length)).size).toBe(1);
    expect(formatJobReport(result)).toContain('miss rate = missed deadlines / migrations attempted');
  });

  it('fits scaled calibration scores and says how the bound is made of them', () => {
    expect(result.model.calibration).toMatchObject({ score: 'scaled', deviceScaleWeight: 0.1 });
    // 21 scores: too few for α = 0.01, enough for 0.1.
    expect(formatJobReport({ ...result, alpha: 0.1 })).toMatch(/bound is the \w+ largest: median \+ -?\d+\.\d\d × \(transfer \+ VM-level cost \+ 0\.1 × devices\)/);
  });
});

describe('the fleet job with enough timed blackouts for terms', () => {
  it('allocates the governor by the risk knapsack, within its allowance, and the report says so', async () => {
    const t = tempDb('vfio-sla-fleet-terms-');
    try {
      const risks = new Map<string, number>();
      const r = await runFleetJob({ ...small(t.db), migrations: 12, trainingMigrations: 80, onGovernorRisk: (spec, risk) => void risks.set(spec.id, risk) });
      expect(r.model.calibration?.terms?.n).toBeGreaterThanOrEqual(50);
      // Each held-out VM's best-case risk, once, as the knapsack was offered it.
      expect([...risks.keys()]).toEqual(r.results.governor.map((m) => m.vmId));
      for (const risk of risks.values()) expect(risk >= 0 && risk <= 1).toBe(true);
      expect(r.governorAlpha).toBeNull();
      const k = r.governorKnapsack!;
      expect(k.attempts).toBe(12);
      expect(k.misses).toBe(r.policies[0]!.missed);
      expect(k.misses).toBeLessThanOrEqual(k.missAllowance);
      expect(formatJobReport(r)).toMatch(/Governor risk knapsack: level \d\.\d{4}, budget \d\.\d{4} per attempt after 12 attempts, \d+ misses \(guarantee: ≤ 5\.1 misses/);
    } finally {
      t.cleanup();
    }
  }, 120_000);
});

describe('vfio-sla demo', () => {
  it('prints the job as JSON with --json', async () => {
    const t = tempDb('vfio-sla-demo-');
    try {
      const io = captureIo(t.dir);
      expect(await runCli(['demo', '--migrations', '3', '--training', '20', '--seed', '4', '--db', 'd.db', '--no-report', '--json'], io)).toBe(0);
      const out = JSON.parse(io.out()) as { policies: Array<{ policy: string; attempted: number }>; training: { migrations: number }; dbPath: string };
      expect(out.policies.map((p) => [p.policy, p.attempted])).toEqual([['governor', 3], ['qemu', 3], ['kubevirt', 3], ['oracle', 3], ['oracle-throttle', 3]]);
      expect(out.training.migrations).toBe(20);
      expect(out.dbPath).toBe(`${t.dir}/d.db`);
      expect(io.err()).toBe(''); // not a terminal: no progress bar
    } finally {
      t.cleanup();
    }
  });

  it('writes the HTML report of the store and says where', async () => {
    const t = tempDb('vfio-sla-demo-');
    try {
      const io = captureIo(t.dir);
      expect(await runCli(['demo', '--migrations', '2', '--training', '10', '--seed', '5', '--db', 'd.db', '--report', 'r/demo.html'], io)).toBe(0);
      expect(io.out()).toContain(`HTML report of the store: ${t.dir}/r/demo.html`);
      const html = readFileSync(join(t.dir, 'r/demo.html'), 'utf8');
      expect(html).toContain('vfio-sla demo: fleet seed 5, 10 training + 2 held-out migrations');
    } finally {
      t.cleanup();
    }
  });

  it('draws a progress bar on a terminal only, and not under CI=true', async () => {
    const t = tempDb('vfio-sla-demo-');
    try {
      const args = ['demo', '--migrations', '2', '--training', '5', '--seed', '6', '--db', 'd.db', '--no-report', '--json'];
      const tty = captureIo(t.dir, { tty: true });
      expect(await runCli(args, tty)).toBe(0);
      expect(tty.err()).toContain('demo [');
      expect(tty.err().endsWith('\r\x1b[2K')).toBe(true);
      const ci = captureIo(t.dir, { tty: true, env: { CI: 'true' } });
      expect(await runCli(args, ci)).toBe(0);
      expect(ci.err()).toBe('');
    } finally {
      t.cleanup();
    }
  });

  it('names the bad option or value', async () => {
    const io = captureIo('/tmp');
    expect(await runCli(['demo', '--migrations', '0'], io)).toBe(2);
    expect(io.err()).toContain("--migrations must be an integer in [1, 100000], got '0'");
    expect(await runCli(['demo', '--alpha', '1'], io)).toBe(2);
    expect(io.err()).toContain("--alpha must be a number in (0, 1), got '1'");
    expect(await runCli(['demo', '--seeds', '3'], io)).toBe(2);
    expect(io.err()).toContain("'--seeds'");
    expect(await runCli(['demo', '--report', 'x.html', '--no-report'], io)).toBe(2);
    expect(io.err()).toContain('--report and --no-report exclude each other');
  });

  it('has a --help that says what the numbers mean', async () => {
    const io = captureIo('/tmp');
    expect(await runCli(['demo', '--help'], io)).toBe(0);
    expect(io.out()).toContain('useful share (completed within the deadline / attempted)');
    expect(io.out()).toContain('miss rate (missed deadlines / migrations attempted)');
  });
});
