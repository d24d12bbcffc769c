/**
 * The report in a real browser: Debian's `chromium` (headless, through playwright-core) opens
 * the file from `file://`, must log no error and request nothing, and every chart's SVG must
 * hold its marks. A full-page screenshot is saved as `out/report.png` for people to look at.
 *
 * Skipped with a message when chromium is missing and CI is not set; in CI a missing browser
 * fails the run (`.ci/run` installs it).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { captureIo } from '../cli/io.js';
import { skipWithout } from '../helpers/ci.js';
import { tempDb } from '../store/fixtures.js';
import { buildLabStore } from './lab-store.js';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const skip = skipWithout(existsSync(CHROMIUM), 'report browser test', `no chromium at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH)`);
const SCREENSHOT = resolve(import.meta.dirname, '../../out/report.png');

let tmp: ReturnType<typeof tempDb>;
let profile: string;
let context: BrowserContext | undefined;
let page: Page;
const problems: string[] = [];

function sqlCount(query: string): number {
  const db = new Database(tmp.db, { readonly: true });
  try {
    return db.prepare(query).pluck().get() as number;
  } finally {
    db.close();
  }
}

/** Items (SVG paths, lines) of a chart's marks whose group has all of `classes`. */
function marks(chart: string, classes: string): Promise<number> {
  return page.locator(`figure[data-chart="${chart}"] svg g.role-mark${classes} > *`).count();
}

describe.skipIf(skip)(skip ? 'the report in Chromium (skipped: no chromium on this host)' : 'the report in Chromium', () => {
  beforeAll(async () => {
    tmp = tempDb('vfio-sla-browser-');
    await buildLabStore(tmp.db, { migrations: 64 });
    expect(await runCli(['report', '--db', tmp.db, '--out', 'report.html'], captureIo(tmp.dir))).toBe(0);
    profile = mkdtempSync(join(tmpdir(), 'vfio-sla-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1200, height: 900 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('request', (r) => {
      if (!r.url().startsWith('file:')) problems.push(`request: ${r.url()}`);
    });
    await page.goto(pathToFileURL(join(tmp.dir, 'report.html')).href, { waitUntil: 'load' });
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    if (profile !== undefined) rmSync(profile, { recursive: true, force: true });
    tmp?.cleanup();
  });

  it('opens from file:// without a console error or a single request', async () => {
    expect(await page.title()).toBe('vfio-sla latency report');
    expect(problems).toEqual([]);
  });

  it('draws each chart at a readable size', async () => {
    for (const chart of ['latency-size', 'ecdf', 'calibration', 'convergence']) {
      const box = await page.locator(`figure[data-chart="${chart}"] svg`).boundingBox();
      expect(box, chart).not.toBeNull();
      expect(box!.width, chart).toBeGreaterThan(400);
      expect(box!.height, chart).toBeGreaterThan(300);
    }
  });

  it('draws every chart at its own size, text at 10 px or more, nothing clipped or cut off', async () => {
    const charts = await page.locator('figure[data-chart]').evaluateAll((figures) =>
      figures.map((f) => {
        const svg = f.querySelector('svg')!;
        const box = svg.getBoundingClientRect();
        const scale = box.width / Number(svg.getAttribute('width'));
        const texts = [...svg.querySelectorAll('text')].filter((t) => (t.textContent ?? '').trim() !== '');
        const outside = texts.filter((t) => {
          const r = t.getBoundingClientRect();
          return r.left < box.left - 0.5 || r.right > box.right + 0.5 || r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5;
        });
        return {
          chart: f.getAttribute('data-chart'),
          scale,
          overflowPx: f.scrollWidth - f.clientWidth,
          minFontPx: Math.min(...texts.map((t) => parseFloat(t.ownerDocument.defaultView?.getComputedStyle(t).fontSize ?? '0') * scale)),
          // Vega truncates a label past its limit with an ellipsis: a name cut off.
          truncated: texts.filter((t) => (t.textContent ?? '').endsWith('…')).map((t) => t.textContent),
          outside: outside.map((t) => t.textContent),
        };
      }),
    );
    expect(charts.map((c) => c.chart)).toEqual(expect.arrayContaining(['latency-size', 'ecdf', 'calibration', 'convergence']));
    for (const c of charts) {
      expect(c, `${c.chart ?? ''} is scaled down`).toMatchObject({ scale: 1, overflowPx: 0, truncated: [], outside: [] });
      expect(c.minFontPx, `${c.chart ?? ''} smallest text`).toBeGreaterThanOrEqual(10);
    }
  });

  it('latency vs size: a panel per (device model, arc) whose size varies, each with its points, fitted line and bound', async () => {
    const oneSize = sqlCount('SELECT count(*) FROM (SELECT 1 FROM arcs WHERE ok = 1 GROUP BY model_ref, from_state, to_state HAVING min(stop_copy_bytes) = max(stop_copy_bytes))');
    const groups = sqlCount('SELECT count(*) FROM (SELECT DISTINCT model_ref, from_state, to_state FROM arcs)') - oneSize;
    const withLine = sqlCount('SELECT count(*) FROM (SELECT DISTINCT model_ref, from_state, to_state FROM arcs WHERE ok = 1)') - oneSize;
    const failed = sqlCount(
      `SELECT count(*) FROM arcs a WHERE ok = 0 AND NOT EXISTS (SELECT 1 FROM arcs b WHERE b.ok = 1 AND b.model_ref = a.model_ref AND b.from_state = a.from_state
         AND b.to_state = a.to_state GROUP BY b.model_ref HAVING min(b.stop_copy_bytes) = max(b.stop_copy_bytes))`,
    );
    expect(failed).toBeGreaterThan(0);
    expect(await page.locator('figure[data-chart="latency-size"] svg g.role-title-text text').count()).toBe(groups + 1);
    // The fitted line and the bound: one path each per panel with completed arcs.
    expect(await marks('latency-size', '.mark-line.child_layer_1_marks')).toBe(2 * withLine);
    const points = await marks('latency-size', '.mark-symbol.child_layer_0_marks');
    expect(points).toBeGreaterThanOrEqual(withLine + failed);
    expect(points).toBeLessThanOrEqual(Math.min(2000, sqlCount('SELECT count(*) FROM arcs')));
    // Failed arcs in their own colour, every one of them (there are few).
    expect(await page.locator('figure[data-chart="latency-size"] svg g.child_layer_0_marks > path[fill="#e45756"]').count()).toBe(failed);
  });

  it('latency strips: the arcs whose size never varied, each with p50, p90 and p99 ticks', async () => {
    const oneSize = sqlCount('SELECT count(*) FROM (SELECT 1 FROM arcs WHERE ok = 1 GROUP BY model_ref, from_state, to_state HAVING min(stop_copy_bytes) = max(stop_copy_bytes))');
    if (oneSize === 0) {
      expect(await page.locator('figure[data-chart="latency-strips"]').count()).toBe(0);
      return;
    }
    expect(await marks('latency-strips', '.mark-rect')).toBe(3 * oneSize); // Vega draws ticks as rects
    expect(await marks('latency-strips', '.mark-symbol')).toBeGreaterThanOrEqual(oneSize);
  });

  it('ECDF: one step line per policy, the deadline rule, and a legend naming each policy', async () => {
    const policies = sqlCount('SELECT count(DISTINCT policy) FROM outcomes');
    expect(await marks('ecdf', '.mark-line')).toBe(policies);
    expect(await marks('ecdf', '.mark-rule')).toBe(1);
    const legend = await page.locator('figure[data-chart="ecdf"] svg g.role-legend-label text').allTextContents();
    expect(legend.map((l) => l.split(':')[0])).toEqual(['governor', 'kubevirt', 'oracle', 'qemu']);
  });

  it('calibration: one point per outcome and the y = x line', async () => {
    expect(await marks('calibration', '.mark-symbol')).toBe(sqlCount('SELECT count(*) FROM outcomes'));
    expect(await marks('calibration', '.mark-line')).toBe(1);
  });

  it('convergence: RAM remaining and ρ lines for each chosen migration, and the ρ = 1 rule', async () => {
    const caption = await page.locator('figure[data-chart="convergence"] figcaption').textContent();
    const chosen = (caption ?? '').replace(/^Migrations: /, '').replace(/\.$/, '').split(', ');
    expect(chosen.length).toBeGreaterThan(0);
    expect(await marks('convergence', '.mark-line')).toBe(2 * chosen.length);
    expect(await marks('convergence', '.mark-rule')).toBe(1);
  });

  it('saves a full-page screenshot under out/', async () => {
    mkdirSync(resolve(SCREENSHOT, '..'), { recursive: true });
    const png = await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(existsSync(SCREENSHOT)).toBe(true);
  });
});
