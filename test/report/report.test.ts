import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { buildReport, writeReport } from '../../src/report/build-report.js';
import { openStore } from '../../src/store/store.js';
import { captureIo } from '../cli/io.js';
import { tempDb } from '../store/fixtures.js';
import { buildLabStore } from './lab-store.js';

let tmp: ReturnType<typeof tempDb>;
/** The report of the lab store, with the 3 worst outcomes, stamped at the epoch. */
let html: string;
beforeAll(async () => {
  tmp = tempDb('vfio-sla-report-');
  await buildLabStore(tmp.db, { migrations: 64 });
  const store = openStore(tmp.db, { readonly: true });
  html = await buildReport(store, { worst: 3, generatedAt: new Date(0) });
  store.close();
});
afterAll(() => tmp.cleanup());

function sql<T>(query: string): T[] {
  const db = new Database(tmp.db, { readonly: true });
  try {
    return db.prepare(query).all() as T[];
  } finally {
    db.close();
  }
}

function section(html: string, id: string): string {
  const start = html.indexOf(`<section id="${id}">`);
  expect(start).toBeGreaterThan(0);
  return html.slice(start, html.indexOf('</section>', start));
}

describe('vfio-sla report', () => {
  it('writes one HTML file with the charts as inline SVG and nothing to load', async () => {
    const io = captureIo(tmp.dir);
    expect(await runCli(['report', '--db', tmp.db, '--out', 'out/report.html', '--json'], io)).toBe(0);
    const summary = JSON.parse(io.out()) as { out: string; charts: string[]; policies: string[]; outcomes: number; arcs: number; bytes: number; warnings: string[] };
    expect(summary.warnings).toEqual([]);
    expect(summary.out).toBe(join(tmp.dir, 'out/report.html'));
    // The lab has arcs whose device state size never varies: they are drawn as strips.
    expect(summary.charts).toEqual(['latency-size', 'latency-strips', 'ecdf', 'calibration', 'convergence']);
    expect(summary.policies).toEqual(['governor', 'kubevirt', 'oracle', 'qemu']);
    expect(summary.arcs).toBe(sql<{ n: number }>('SELECT count(*) AS n FROM arcs')[0]!.n);
    expect(summary.outcomes).toBe(sql<{ n: number }>('SELECT count(*) AS n FROM outcomes')[0]!.n);
    const page = readFileSync(summary.out, 'utf8');
    expect(Buffer.byteLength(page)).toBe(summary.bytes);
    expect(page.startsWith('<!doctype html>')).toBe(true);
    for (const chart of summary.charts) expect(page).toMatch(new RegExp(`<figure class="chart" data-chart="${chart}"><svg `));
    // Nothing fetched: no script, no stylesheet or image link, no URL but SVG namespace names.
    expect(page).not.toMatch(/<script|<link|<img|<iframe|@import|src=/i);
    const urls = new Set(page.match(/https?:\/\/[^\s"')]+/g) ?? []);
    expect([...urls].sort()).toEqual(['http://www.w3.org/1999/xlink', 'http://www.w3.org/2000/svg']);
    expect(page).toContain(`content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"`);
    // Ids unique across the page's SVGs.
    const ids = page.match(/\bid="[^"]+"/g) ?? [];
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('titles every chart and puts units on its axes', () => {
    const axisTitles = (chart: string): string[] => {
      const start = html.indexOf(`data-chart="${chart}"`);
      const svg = html.slice(start, html.indexOf('</figure>', start));
      const out = new Set<string>();
      for (const m of svg.matchAll(/<g class="mark-text role-axis-title"[^>]*>(.*?)<\/g>/g)) for (const t of m[1]!.matchAll(/>([^<]+)<\/text>/g)) out.add(t[1]!);
      return [...out].sort();
    };
    expect(axisTitles('latency-size')).toEqual(['arc latency (ms)', 'device state at arc start (bytes)']);
    expect(axisTitles('ecdf')).toEqual(['actual blackout (ms)', 'share of migrations (cumulative)']);
    expect(axisTitles('calibration')).toEqual(['actual blackout (ms)', 'predicted bound (ms)']);
    expect(axisTitles('convergence')).toEqual(['RAM remaining (MB, log scale)', 'pre-copy pass (QEMU dirty-sync-count)', 'ρ = dirty rate / bandwidth']);
    for (const title of ['Arc latency vs device state size', 'Blackout per policy against the deadline', 'Calibration: predicted bound vs actual blackout', 'Pre-copy convergence']) {
      expect(html).toContain(title);
    }
    expect(html).toContain('Generated 1970-01-01T00:00:00.000Z');
  });

  it('lists the worst outcome first with the arcs of its blackout, the most overrun first', () => {
    const worst = sql<{ id: string; over: number }>(
      `SELECT m.migration_id AS id, o.actual_blackout_ms - o.deadline_ms AS over FROM outcomes o JOIN migrations m ON m.id = o.migration_ref ORDER BY over DESC, id LIMIT 3`,
    );
    const table = section(html, 'worst');
    const rows = table.split('<tr>').slice(2);
    expect(rows.length).toBe(3);
    worst.forEach((w, i) => expect(rows[i]).toContain(`<td>${w.id}</td>`));
    expect(rows[0]).toContain('class="missed"');
    // Each listed arc: model, device, arc, latency, its line and the excess.
    expect(rows[0]).toMatch(/<li>(mlx5-cx7|qat-vf|generic-nic) 0000:(3b|5e):00\.\d [A-Z_]+&gt;[A-Z_]+ [\d.]+ ms \(line [\d.]+ ms, [+-][\d.]+ ms\)<\/li>/);
  });

  it('draws the convergence of the migrations asked for', async () => {
    const [first, second] = sql<{ id: string }>(
      `SELECT m.migration_id AS id FROM ram_progress r JOIN migrations m ON m.id = r.migration_ref GROUP BY r.migration_ref HAVING count(*) >= 3 ORDER BY id LIMIT 2`,
    );
    const io = captureIo(tmp.dir);
    expect(await runCli(['report', '--db', tmp.db, '--out', 'conv.html', '--migration', first!.id, '--migration', second!.id, '--json'], io)).toBe(0);
    expect((JSON.parse(io.out()) as { convergenceMigrations: string[] }).convergenceMigrations).toEqual([first!.id, second!.id]);
    expect(readFileSync(join(tmp.dir, 'conv.html'), 'utf8')).toContain(`Migrations: ${first!.id}, ${second!.id}.`);
  });

  it('says what is missing instead of drawing an empty chart', async () => {
    const store = openStore(tmp.db, { readonly: true });
    const out = join(tmp.dir, 'empty.html');
    const summary = await writeReport(store, out, { filter: { policy: 'nobody', sinceMs: Date.UTC(2030, 0, 1) } });
    store.close();
    expect(summary).toMatchObject({ arcs: 0, outcomes: 0, charts: [] });
    const page = readFileSync(out, 'utf8');
    expect(section(page, 'policies')).toContain('No outcomes recorded');
    expect(section(page, 'latency')).toContain('No arcs recorded.');
    expect(page).not.toContain('data-chart=');
  });

  it("names the store's date range when the filter matches nothing", async () => {
    const io = captureIo(tmp.dir);
    expect(await runCli(['report', '--db', tmp.db, '--out', 'none.html', '--since', '2099-01-01'], io)).toBe(0);
    expect(io.err()).toMatch(/^vfio-sla report: nothing matches since 2099-01-01T00:00:00\.000Z; the store's records run from \d{4}-\d\d-\d\dT[0-9:.]+Z to \d{4}-\d\d-\d\dT[0-9:.]+Z\n$/);
  });

  it('refuses a missing --out and a bad filter, naming them', async () => {
    const io = captureIo(tmp.dir);
    expect(await runCli(['report', '--db', tmp.db], io)).toBe(2);
    expect(io.err()).toContain('--out <file.html> is required');
    expect(await runCli(['report', '--db', tmp.db, '--out', 'x.html', '--worst', 'many'], io)).toBe(2);
    expect(io.err()).toContain("--worst must be a non-negative integer, got 'many'");
    expect(existsSync(join(tmp.dir, 'x.html'))).toBe(false);
  });

  it('shows progress over the arcs on a terminal, and nothing when CI=true', async () => {
    const tty = captureIo(tmp.dir, { tty: true });
    expect(await runCli(['report', '--db', tmp.db, '--out', 'p.html'], tty)).toBe(0);
    expect(tty.err()).toMatch(/report: arcs \[#+\] 100% /);
    const ci = captureIo(tmp.dir, { tty: true, env: { CI: 'true' } });
    expect(await runCli(['report', '--db', tmp.db, '--out', 'p.html'], ci)).toBe(0);
    expect(ci.err()).toBe('');
  });
});
