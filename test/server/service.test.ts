import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decide } from '../../src/governor/decide.js';
import { decideAtLowestLevel } from '../../src/governor/risk-levels.js';
import { DEFAULT_PRIORS_FILE, loadModel } from '../../src/files/model-file.js';
import { parseDecideParams } from '../../src/server/decide-params.js';
import { loadedModel } from '../../src/server/model-state.js';
import { PROTOCOL_VERSION } from '../../src/server/protocol.js';
import type { RunningService } from '../../src/server/start.js';
import { listRejects, tableCounts } from '../../src/store/inventory.js';
import { arc, ram } from '../store/fixtures.js';
import { decideRequest, fillStore, LineClient, startTestService, tempDir, type TempDir } from './helpers.js';

let tmp: TempDir;
let running: RunningService | undefined;
let client: LineClient;

beforeEach(() => {
  tmp = tempDir();
});
afterEach(async () => {
  client?.close();
  await running?.close();
  running = undefined;
  tmp.cleanup();
});

async function start(over: Parameters<typeof startTestService>[1] = {}): Promise<void> {
  running = await startTestService(tmp, over);
  client = await LineClient.connect(tmp.socket);
}

/** What `decide()` itself says, as it looks after a trip through JSON. */
function expectedDecision(request: Record<string, unknown>): unknown {
  const p = parseDecideParams(request['params'] as Record<string, unknown>, 0.01);
  return JSON.parse(JSON.stringify(decide(p.snapshot, running!.service.currentModel.compiled, p.slo)));
}

describe('decide', () => {
  it('answers with the governor decision for the snapshot, commit and not', async () => {
    await start();
    for (const [id, over] of [[1, { deadlineMs: 5000 }], [2, { deadlineMs: 50 }], [3, { deadlineMs: 900, ramRemainingBytes: 8 * 1024 ** 3 }]] as const) {
      const req = decideRequest(id, over);
      const reply = await client.request(req);
      expect(reply).toEqual({ id, result: expectedDecision(req) });
    }
    const actions = new Set<unknown>();
    for (const d of [5000, 50]) actions.add((expectedDecision(decideRequest(0, { deadlineMs: d })) as { action: string }).action);
    expect(actions).toEqual(new Set(['commit', 'abort']));
  });

  it('defers an abort from an uncalibrated bound to the VMM, with the reason and the governor answer', async () => {
    await start({ model: loadedModel(loadModel(DEFAULT_PRIORS_FILE), 'priors', DEFAULT_PRIORS_FILE, '2026-01-01T00:00:00.000Z') });
    const req = decideRequest(1, { deadlineMs: 500 });
    const governor = expectedDecision(req) as Record<string, unknown>;
    expect(governor).toMatchObject({ action: 'abort', reason: 'DEADLINE_UNREACHABLE', calibrated: false });
    expect(await client.request(req)).toEqual({
      id: 1,
      result: { ...governor, action: 'defer', reason: 'NO_CALIBRATED_MODEL', governor: { action: 'abort', reason: 'DEADLINE_UNREACHABLE' } },
    });
  });

  it('passes the abort on with abortWithoutModel, and never defers a device in ERROR', async () => {
    await start({ model: loadedModel(loadModel(DEFAULT_PRIORS_FILE), 'priors', null, '2026-01-01T00:00:00.000Z') });
    expect(await client.request(decideRequest(1, { deadlineMs: 500, state: 'ERROR' }))).toMatchObject({ result: { action: 'abort', reason: 'DEVICE_ERROR' } });
    client.close();
    await running?.close();
    await start({ model: loadedModel(loadModel(DEFAULT_PRIORS_FILE), 'priors', null, '2026-01-01T00:00:00.000Z'), abortWithoutModel: true });
    expect(await client.request(decideRequest(2, { deadlineMs: 500 }))).toMatchObject({ result: { action: 'abort', reason: 'DEADLINE_UNREACHABLE' } });
  });

  it('decides at the lowest level in reach with slo.levels, says which, and starts where the client left off', async () => {
    await start();
    const leveled = (id: number, deadlineMs: number, levels: unknown, level?: unknown): Record<string, unknown> => {
      const req = decideRequest(id, { deadlineMs });
      const slo = (req['params'] as { slo: Record<string, unknown> }).slo;
      slo['levels'] = levels;
      if (level !== undefined) slo['level'] = level;
      return req;
    };
    const expected = (req: Record<string, unknown>): unknown => {
      const p = parseDecideParams(req['params'] as Record<string, unknown>, 0.01);
      const l = decideAtLowestLevel(p.snapshot, running!.service.currentModel.compiled, p.slo, p.ladder!.levels, p.ladder!.from);
      return JSON.parse(JSON.stringify({ ...l.decision, level: l.level }));
    };
    // Some deadline is out of reach at 1 in 10 000 and in reach at 1 in 20: decided at the second level.
    let climbed: { deadlineMs: number; reply: unknown } | undefined;
    for (const deadlineMs of [300, 500, 800, 1200, 2000, 3000]) {
      const req = leveled(deadlineMs, deadlineMs, [0.0001, 0.05]);
      const reply = (await client.request(req)) as unknown as { result: { level: number; alpha: number; action: string } };
      expect(reply).toEqual({ id: deadlineMs, result: expected(req) });
      if (reply.result.level === 1 && reply.result.action !== 'abort') climbed ??= { deadlineMs, reply };
    }
    expect(climbed).toBeDefined();
    expect(climbed?.reply).toMatchObject({ result: { alpha: 0.05 } });
    // Passed back, the level only rises: at index 1 the lower level is not tried again.
    const again = leveled(2, 100_000, [0.0001, 0.05], 1);
    expect(await client.request(again)).toMatchObject({ id: 2, result: { level: 1, alpha: 0.05 } });
    // Without levels the reply has no level (protocol 2 clients see what they saw).
    expect(await client.request(decideRequest(3))).not.toHaveProperty('result.level');
    for (const [levels, level, field] of [
      [[0.05, 0.01], undefined, 'params.slo.levels[1]'],
      [[], undefined, 'params.slo.levels'],
      [[0, 0.1], undefined, 'params.slo.levels[0]'],
      [[0.01, 0.05], 2, 'params.slo.level'],
      [[0.01, 0.05], 0.5, 'params.slo.level'],
      [Array.from({ length: 9 }, (_, i) => (i + 1) / 100), undefined, 'params.slo.levels'],
    ] as const) {
      expect(await client.request(leveled(4, 500, levels, level))).toMatchObject({ id: 4, error: { code: 'E_BAD_PARAMS', field } });
    }
  });

  it('names a bad field and keeps the connection usable', async () => {
    await start();
    const bad = decideRequest(9);
    ((bad['params'] as { slo: Record<string, unknown> }).slo)['deadlineMs'] = -1;
    expect(await client.request(bad)).toMatchObject({ id: 9, error: { code: 'E_BAD_PARAMS', field: 'params.slo.deadlineMs' } });
    expect(await client.request(decideRequest(10))).toMatchObject({ id: 10, result: { action: expect.any(String) } });
  });
});

describe('record', () => {
  it('accepts records, lists rejects by index and commits them with flush', async () => {
    await start();
    const one = await client.request({ id: 1, method: 'record', params: arc({ migrationId: 'srv-1' }) });
    expect(one).toEqual({ id: 1, result: { accepted: 1, rejected: [], committed: false } });
    const batch = await client.request({
      id: 2,
      method: 'record',
      params: { records: [ram({ migrationId: 'srv-1' }), { kind: 'arc', migrationId: 'srv-1' }, { kind: 'nope' }], flush: true },
    });
    expect(batch).toMatchObject({ id: 2, result: { accepted: 1, committed: true, rejected: [{ index: 1 }, { index: 2, reason: 'record: unknown kind "nope"' }] } });
    const counts = tableCounts(running!.store!);
    expect([counts.arcs, counts.ram_progress, counts.rejects]).toEqual([1, 1, 2]);
    const sources = listRejects(running!.store!).map((r) => `${r.file}:${r.line}`);
    expect(sources).toHaveLength(2);
    for (const s of sources) expect(s).toMatch(/^serve@\d+#1:2$/);
  });

  it('refuses params that are neither a record nor a list of them', async () => {
    await start();
    expect(await client.request({ id: 1, method: 'record', params: { records: 'all' } })).toMatchObject({ error: { code: 'E_BAD_PARAMS', field: 'params.records' } });
    expect(await client.request({ id: 2, method: 'record', params: {} })).toMatchObject({ error: { code: 'E_BAD_PARAMS', field: 'params' } });
  });

  it('answers E_NO_STORE for record and fit on a server without a database', async () => {
    await start({ dbPath: null });
    expect(await client.request({ id: 1, method: 'record', params: arc() })).toMatchObject({ error: { code: 'E_NO_STORE' } });
    expect(await client.request({ id: 2, method: 'fit' })).toMatchObject({ error: { code: 'E_NO_STORE' } });
    expect(await client.request({ id: 3, method: 'health' })).toMatchObject({ result: { store: null, records: null } });
  });
});

describe('fit and model', () => {
  it('refits from the store, swaps the model decide uses, and joins a fit already running', async () => {
    fillStore(tmp.db, 40);
    await start();
    expect(await client.request({ id: 0, method: 'model' })).toMatchObject({ result: { name: 'sim-truth-calibrated', source: 'file' } });
    client.send(`${JSON.stringify({ id: 1, method: 'fit', params: { name: 'lab' } })}\n${JSON.stringify({ id: 2, method: 'fit' })}\n`);
    const [first, second] = [await client.next(), await client.next()];
    expect(first).toMatchObject({ id: 1, result: { joined: false, ranIn: 'inline', model: { name: 'lab', source: 'fit', calibration: { n: 40, method: 'cross-fit' } } } });
    expect(second).toMatchObject({ id: 2, result: { joined: true, model: { name: 'lab' } } });
    const model = await client.request({ id: 3, method: 'model' });
    expect(model.result?.['arcs']).toMatchObject({ 'mlx5-cx7': { 'PRE_COPY_P2P>STOP_COPY': 40 } });
    expect(running!.service.currentModel.fitted.name).toBe('lab');
    const req = decideRequest(4);
    expect(await client.request(req)).toEqual({ id: 4, result: expectedDecision(req) });
    expect(await client.request({ id: 5, method: 'health' })).toMatchObject({ result: { fit: { runsIn: 'inline', running: false, last: { ok: true } } } });
  });

  it('keeps the old model when a fit fails', async () => {
    await start();
    expect(await client.request({ id: 1, method: 'fit' })).toMatchObject({ id: 1, error: { code: 'E_FIT_FAILED', message: expect.stringContaining('no telemetry') } });
    expect(await client.request({ id: 2, method: 'fit', params: { exclude: [''] } })).toMatchObject({ error: { code: 'E_BAD_PARAMS', field: 'params.exclude[0]' } });
    expect(running!.service.currentModel.fitted.name).toBe('sim-truth-calibrated');
    expect(await client.request({ id: 3, method: 'health' })).toMatchObject({ result: { fit: { last: { ok: false, error: expect.stringContaining('E_FIT_FAILED') } } } });
  });
});

describe('health', () => {
  it('reports the server and protocol version, pid, socket, store, queued records and the model', async () => {
    await start();
    const h = await client.request({ id: 'h', method: 'health' });
    const version = (JSON.parse(readFileSync(join(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string }).version;
    expect(h).toMatchObject({
      id: 'h',
      result: {
        status: 'ok',
        server: { name: 'vfio-sla', version },
        protocol: PROTOCOL_VERSION,
        pid: process.pid,
        socket: tmp.socket,
        connections: 1,
        blockedConnections: 0,
        store: tmp.db,
        queuedRecords: 0,
        model: { loaded: true, name: 'sim-truth-calibrated', source: 'file', priorsOnly: false },
      },
    });
    expect(h.result?.['uptimeMs']).toBeGreaterThanOrEqual(0);
  });
});
