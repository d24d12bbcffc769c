import { afterEach, beforeEach, expect, it } from 'vitest';
import type { RunningService } from '../../src/server/start.js';
import { listRejects } from '../../src/store/inventory.js';
import { LineClient, startTestService, tempDir, type TempDir } from './helpers.js';

let tmp: TempDir;
let running: RunningService | undefined;
let client: LineClient | undefined;

beforeEach(() => {
  tmp = tempDir();
});
afterEach(async () => {
  client?.close();
  await running?.close();
  running = undefined;
  tmp.cleanup();
});

it('stores every rejected record of one record request, even two with the same reason', async () => {
  running = await startTestService(tmp);
  client = await LineClient.connect(tmp.socket);
  const bad = { kind: 'arc', migrationId: 'srv-1' };
  const reply = await client.request({ id: 1, method: 'record', params: { records: [bad, bad, { kind: 'nope' }], flush: true } });
  expect(reply).toMatchObject({ id: 1, result: { accepted: 0, committed: true, rejected: [{ index: 0 }, { index: 1 }, { index: 2 }] } });
  const stored = listRejects(running.store!);
  const sources = stored.map((r) => `${r.file}:${r.line}`);
  expect(sources).toHaveLength(3);
  for (const s of sources) expect(s).toMatch(/^serve@\d+#1:1$/);
  expect(stored.map((r) => r.reason)).toEqual([
    'records[0]: arc.deviceId: expected a non-empty string without control characters, got nothing',
    'records[1]: arc.deviceId: expected a non-empty string without control characters, got nothing',
    'records[2]: record: unknown kind "nope"',
  ]);
  expect(running.service.recordStats).toMatchObject({ rejected: 3, committed: 3 });
});

it('keeps the rejects of a restarted server apart from the same rejects of an earlier run', async () => {
  const bad = { kind: 'arc', migrationId: 'srv-1' };
  for (const startMs of [1_000, 2_000]) {
    running = await startTestService(tmp, { now: () => startMs });
    client = await LineClient.connect(tmp.socket);
    expect(await client.request({ id: 1, method: 'record', params: { ...bad, flush: true } })).toMatchObject({ id: 1 });
    client.close();
    client = undefined;
    await running.close();
    running = undefined;
  }
  running = await startTestService(tmp);
  expect(listRejects(running.store!).map((r) => `${r.file}:${r.line}`)).toEqual(['serve@1000#1:1', 'serve@2000#1:1']);
});
