import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import type { TelemetryRecord } from '../../src/records/records.js';
import { Store } from '../../src/store/store.js';
import { simulateFleet, TestRng } from '../estimators/simulate.js';
import { tempDb } from '../store/fixtures.js';
import { captureIo } from './io.js';

let tmp: ReturnType<typeof tempDb>;
beforeEach(() => {
  tmp = tempDb('vfio-sla-stack-');
});
afterEach(() => tmp.cleanup());

/** 30 migrations on QEMU 10.0.2 and 5 whose QEMU nobody recorded. */
function fillStore(db: string): void {
  const known = simulateFleet(new TestRng(3), 30, 'q10').flatMap((rs): TelemetryRecord[] => [{ kind: 'stack', migrationId: rs[0]?.migrationId ?? '', side: 'source', qemuVersion: '10.0.2' }, ...rs]);
  const unknown = simulateFleet(new TestRng(4), 5, 'old').flat();
  const store = Store.open(db);
  store.writeBatch([...known, ...unknown].map((record) => ({ record, source: undefined })));
  store.close();
}

describe('the stack in fit and stats', () => {
  it('fit says which stacks are calibrated on their own, in its text and its JSON', async () => {
    fillStore(tmp.db);
    const text = captureIo(tmp.dir);
    expect(await runCli(['fit', '--db', tmp.db, '--out', 'm.json'], text)).toBe(0);
    expect(text.out()).toContain('calibration by stack (a query of these stacks uses its own scores when they reach α\'s conformal rank, others the pooled ones): qemu10/mlx5-cx7 30\n');
    const json = captureIo(tmp.dir);
    expect(await runCli(['fit', '--db', tmp.db, '--out', 'm2.json', '--json'], json)).toBe(0);
    expect(JSON.parse(json.out())).toMatchObject({ calibration: { n: 35, byStack: { 'qemu10/mlx5-cx7': 30 } } });
  });

  it('stats says which QEMU the migrations ran', async () => {
    fillStore(tmp.db);
    const text = captureIo(tmp.dir);
    expect(await runCli(['stats', '--db', tmp.db, '--only', 'migrations'], text)).toBe(0);
    expect(text.out()).toContain('source QEMU: 10.0.2 x30, unknown x5\n');
    const json = captureIo(tmp.dir);
    expect(await runCli(['stats', '--db', tmp.db, '--only', 'migrations', '--json'], json)).toBe(0);
    expect(JSON.parse(json.out()).migrations.qemuVersions).toEqual([
      { qemuVersion: '10.0.2', migrations: 30 },
      { qemuVersion: null, migrations: 5 },
    ]);
  });
});
