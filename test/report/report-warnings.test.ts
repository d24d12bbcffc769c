import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { captureIo } from '../cli/io.js';
import { tempDb } from '../store/fixtures.js';
import { buildLabStore } from './lab-store.js';

let tmp: ReturnType<typeof tempDb>;
beforeAll(async () => {
  tmp = tempDb('vfio-sla-report-warn-');
  await buildLabStore(tmp.db, { migrations: 8 });
});
afterAll(() => tmp.cleanup());

it('names a --migration the convergence chart could not draw, in the JSON summary and on stderr', async () => {
  const json = captureIo(tmp.dir);
  expect(await runCli(['report', '--db', tmp.db, '--out', 'w.html', '--migration', 'no-such-migration', '--json'], json)).toBe(0);
  const summary = JSON.parse(json.out()) as { convergenceMigrations: string[]; warnings: string[] };
  expect(summary.convergenceMigrations).toEqual([]);
  expect(summary.warnings).toEqual(["--migration 'no-such-migration': no RAM progress recorded; not in the convergence chart"]);
  const text = captureIo(tmp.dir);
  expect(await runCli(['report', '--db', tmp.db, '--out', 'w.html', '--migration', 'no-such-migration'], text)).toBe(0);
  expect(text.err()).toBe("vfio-sla report: --migration 'no-such-migration': no RAM progress recorded; not in the convergence chart\n");
});
