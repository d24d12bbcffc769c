import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { fitArc } from '../../src/estimators/arc-fit.js';
import type { ArcStats } from '../../src/report/arc-stats.js';
import { iterateArcs } from '../../src/store/queries.js';
import { openStore } from '../../src/store/store.js';
import { captureIo } from '../cli/io.js';
import { tempDb } from '../store/fixtures.js';
import { buildLabStore, LAB_DAY0_MS, LAB_SPACING_MS } from './lab-store.js';

let tmp: ReturnType<typeof tempDb>;
beforeAll(async () => {
  tmp = tempDb('vfio-sla-stats-');
  const lab = await buildLabStore(tmp.db, { migrations: 64 });
  expect(lab.errors).toEqual([]);
});
afterAll(() => tmp.cleanup());

async function stats(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = captureIo(tmp.dir);
  const code = await runCli(['stats', '--db', tmp.db, ...args], io);
  return { code, out: io.out(), err: io.err() };
}

async function statsJson(args: string[] = []): Promise<{ arcs: ArcStats[]; policies: Array<Record<string, unknown>>; migrations: { total: number; shown: number; rows: Array<Record<string, unknown>> } }> {
  const r = await stats([...args, '--format', 'json']);
  expect(r.code).toBe(0);
  return JSON.parse(r.out) as Awaited<ReturnType<typeof statsJson>>;
}

/** SQLite's own aggregates over the `arcs_named` view: an independent path to the same numbers. */
function sqlGroups(where = '1 = 1', params: unknown[] = []): Array<{ deviceModel: string; arc: string; n: number; failed: number; p50: number | null; p90: number | null; p99: number | null; max: number | null }> {
  const db = new Database(tmp.db, { readonly: true });
  try {
    return db
      .prepare(
        `SELECT device_model AS deviceModel, arc, count(*) AS n, sum(1 - ok) AS failed,
                percentile(CASE WHEN ok THEN latency_ms END, 50) AS p50, percentile(CASE WHEN ok THEN latency_ms END, 90) AS p90,
                percentile(CASE WHEN ok THEN latency_ms END, 99) AS p99, max(CASE WHEN ok THEN latency_ms END) AS max
           FROM arcs_named WHERE ${where} GROUP BY device_model, arc ORDER BY device_model, arc`,
      )
      .all(...params) as ReturnType<typeof sqlGroups>;
  } finally {
    db.close();
  }
}

const byKey = <T extends { deviceModel: string; arc: string }>(rows: readonly T[]): T[] => [...rows].sort((a, b) => `${a.deviceModel}|${a.arc}`.localeCompare(`${b.deviceModel}|${b.arc}`));

describe('vfio-sla stats', () => {
  it('gives per device model and arc the counts and latency quantiles SQLite computes over the same arcs', async () => {
    const { arcs } = await statsJson();
    const expected = sqlGroups();
    expect(arcs.length).toBe(expected.length);
    expect(expected.some((g) => g.failed > 0)).toBe(true);
    for (const [got, want] of byKey(arcs).map((a, i) => [a, byKey(expected)[i]!] as const)) {
      expect({ model: got.deviceModel, arc: got.arc, n: got.n, failed: got.failed }).toEqual({ model: want.deviceModel, arc: want.arc, n: want.n, failed: want.failed });
      expect(got.failShare).toBeCloseTo(want.failed / want.n, 12);
      for (const [g, w] of [
        [got.p50Ms, want.p50],
        [got.p90Ms, want.p90],
        [got.p99Ms, want.p99],
        [got.maxMs, want.max],
      ] as const) {
        if (w === null) expect(g).toBeNull();
        else expect(g).toBeCloseTo(w, 9);
      }
    }
  });

  it("fits each arc's fixed cost and slope as the estimators' fitArc does on the stored arcs", async () => {
    const { arcs } = await statsJson();
    const store = openStore(tmp.db, { readonly: true });
    try {
      for (const a of arcs.filter((s) => s.n - s.failed >= 3)) {
        const ok = [...iterateArcs(store, { deviceModel: a.deviceModel, arc: a.arc, okOnly: true })];
        const line = fitArc({ x: ok.map((r) => r.stopCopyBytes), y: ok.map((r) => r.latencyMs) }, undefined);
        expect(a.fixedMs).toBeCloseTo(line!.fixedMs, 9);
        expect(a.slopeMsPerByte).toBeCloseTo(line!.slopeMsPerByte, 15);
        expect(a.slopeMsPerByte).toBeGreaterThanOrEqual(0);
      }
    } finally {
      store.close();
    }
  });

  it('prints aligned terminal tables with units in the headers, worst migration first', async () => {
    const r = await stats(['--limit', '5']);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    const lines = r.out.split('\n');
    expect(lines[0]).toMatch(/^Arc latency by device model x arc: \d+ arcs$/);
    expect(lines[2]).toMatch(/^device model +arc +n +failed +p50 ms +p90 ms +p99 ms +max ms +fixed ms +slope ms\/MB$/);
    expect(r.out).toMatch(/\nmlx5-cx7 +PRE_COPY_P2P>STOP_COPY +\d+ /);
    const { migrations } = await statsJson(['--limit', '5']);
    expect(migrations.shown).toBe(5);
    const worst = migrations.rows[0]!;
    expect(r.out).toContain(`\n${String(worst['migrationId'])} `);
    const overs = migrations.rows.map((m) => m['overDeadlineMs'] as number);
    expect(overs).toEqual([...overs].sort((a, b) => b - a));
  });

  it('summarises every policy: outcomes, deadlines met and the share above the bound', async () => {
    const { policies } = await statsJson();
    const db = new Database(tmp.db, { readonly: true });
    const want = db
      .prepare('SELECT policy, count(*) AS n, avg(met) AS metShare, avg(actual_blackout_ms > predicted_blackout_ms) AS above FROM outcomes GROUP BY policy ORDER BY policy')
      .all() as Array<{ policy: string; n: number; metShare: number; above: number }>;
    db.close();
    expect(want.map((w) => w.policy)).toEqual(['governor', 'kubevirt', 'oracle', 'qemu']);
    expect(policies.map((p) => [p['policy'], p['n']])).toEqual(want.map((w) => [w.policy, w.n]));
    policies.forEach((p, i) => {
      expect(p['metShare']).toBeCloseTo(want[i]!.metShare, 12);
      expect(p['aboveBoundShare']).toBeCloseTo(want[i]!.above, 12);
    });
  });

  it('narrows to a device model, an arc, a start time and a policy', async () => {
    const model = await statsJson(['--device-model', 'qat-vf']);
    expect(new Set(model.arcs.map((a) => a.deviceModel))).toEqual(new Set(['qat-vf']));
    expect(model.arcs.length).toBe(sqlGroups("device_model = 'qat-vf'").length);

    const arc = await statsJson(['--arc', 'PRE_COPY_P2P>STOP_COPY']);
    expect(arc.arcs.map((a) => a.arc)).toEqual(arc.arcs.map(() => 'PRE_COPY_P2P>STOP_COPY'));
    expect(arc.arcs.map((a) => a.deviceModel)).toEqual(['mlx5-cx7', 'qat-vf']);
    expect(await statsJson(['--arc', 'PRE_COPY_P2P:STOP_COPY'])).toEqual(arc); // no quotes needed in a shell

    const sinceMs = LAB_DAY0_MS + 40 * LAB_SPACING_MS;
    const since = await statsJson(['--since', new Date(sinceMs).toISOString()]);
    const want = sqlGroups('started_at_ms >= ?', [sinceMs]);
    expect(want.length).toBeGreaterThan(0);
    expect(byKey(since.arcs).map((a) => [a.deviceModel, a.arc, a.n])).toEqual(byKey(want).map((w) => [w.deviceModel, w.arc, w.n]));
    expect(since.migrations.rows.every((m) => (m['decidedAtMs'] as number) >= sinceMs)).toBe(true);
    expect(since.migrations.total).toBeLessThan((await statsJson()).migrations.total);

    const future = await stats(['--since', '2099-01-01']);
    expect(future.code).toBe(0);
    expect(future.out).toContain('0 arcs');
    expect(future.err).toMatch(
      new RegExp(`^vfio-sla stats: nothing matches since 2099-01-01T00:00:00\\.000Z; the store's records run from ${new Date(LAB_DAY0_MS).toISOString().slice(0, 10)}T[0-9:.]+Z to 2025-\\d\\d-\\d\\dT[0-9:.]+Z\n$`),
    );
    expect((await stats(['--since', '2025-03-02'])).err).toBe('');

    const policy = await statsJson(['--policy', 'qemu', '--limit', '0']);
    expect(policy.policies.map((p) => p['policy'])).toEqual(['qemu']);
    expect(policy.migrations.rows.every((m) => m['policy'] === 'qemu')).toBe(true);
    expect(policy.migrations.shown).toBe(policy.migrations.total);
  });

  it('narrows arcs and outcomes to the migrations whose id starts with --migration-prefix', async () => {
    const db = new Database(tmp.db, { readonly: true });
    const want = db
      .prepare(`SELECT count(*) FROM arcs_named WHERE migration_id LIKE 'lab/governor-%'`)
      .pluck()
      .get() as number;
    const policies = db.prepare(`SELECT DISTINCT o.policy FROM outcomes o JOIN migrations m ON m.id = o.migration_ref WHERE m.migration_id LIKE 'lab/governor-%'`).pluck().all();
    db.close();
    expect(want).toBeGreaterThan(0);
    const j = await statsJson(['--migration-prefix', 'lab/governor-']);
    expect(j.arcs.reduce((n, a) => n + a.n, 0)).toBe(want);
    expect(j.policies.map((p) => p['policy'])).toEqual(policies);
    expect(j.migrations.rows.every((r) => String(r['migrationId']).startsWith('lab/governor-'))).toBe(true);
  });

  it('writes one table as CSV and every table as Markdown', async () => {
    const csv = await stats(['--only', 'arcs', '--format', 'csv']);
    expect(csv.code).toBe(0);
    const rows = csv.out.trimEnd().split('\r\n');
    expect(rows[0]).toBe('device_model,arc,n,fail_share,p50_ms,p90_ms,p99_ms,max_ms,fixed_ms,slope_ms_per_byte');
    expect(rows.length - 1).toBe(sqlGroups().length);
    const migrations = await stats(['--only', 'migrations', '--format', 'csv', '--limit', '0']);
    expect(migrations.out.split('\r\n')[0]).toBe('migration_id,policy,deadline_ms,predicted_bound_ms,actual_blackout_ms,over_deadline_ms,within_bound,met');

    const md = await stats(['--format', 'md', '--limit', '3']);
    expect(md.out).toMatch(/^### Arc latency by device model x arc/);
    expect(md.out).toContain('| device model | arc | n | failed | p50 ms |');
    expect(md.out).toContain('| :--- | :--- | ---: | ---: | ---: |');
    expect(md.out).toContain('### Outcomes by policy');
    expect(md.out).toContain('### Migrations, worst first');
  });

  it.each([
    [['--format', 'xml'], "--format must be one of table, json, csv, md, got 'xml'"],
    [['--format', 'csv'], '--format csv writes one table: add --only arcs'],
    [['--arc', 'RUNNING-STOP'], "--arc must be FROM:TO or 'FROM>TO' state names (e.g. PRE_COPY_P2P:STOP_COPY), got 'RUNNING-STOP'"],
    [['--since', 'last tuesday'], "--since: not a time: 'last tuesday'"],
    [['--limit', '2.5'], "--limit must be a non-negative integer, got '2.5'"],
    [['--only', 'devices'], "--only must be one of arcs, attempts, policies, migrations, got 'devices'"],
    [['--json', '--format', 'md'], '--json and --format md exclude each other'],
    [['--bogus'], "Unknown option '--bogus'"],
  ])('refuses %j, naming the option and the value', async (args, message) => {
    const r = await stats(args);
    expect(r.code).toBe(2);
    expect(r.err).toContain(message);
    expect(r.out).toBe('');
  });

  it('refuses a missing database with a usage error', async () => {
    const io = captureIo(tmp.dir);
    expect(await runCli(['stats', '--db', 'nope.db'], io)).toBe(2);
    expect(io.err()).toContain("--db: no database at 'nope.db'");
  });

  it('draws no progress bar when stderr is not a terminal, or CI=true', async () => {
    const io = captureIo(tmp.dir, { tty: true, env: { CI: 'true' } });
    expect(await runCli(['stats', '--db', tmp.db, '--only', 'policies'], io)).toBe(0);
    expect(io.err()).toBe('');
  });
});
