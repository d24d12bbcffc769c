/**
 * Random and hostile input against the service: every non-blank line gets exactly one reply,
 * a JSON object with the request's id and either a result or an error with a documented code
 * (never E_INTERNAL), and the connection — and the other connections — keep working.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REASON_ACTIONS } from '../../src/governor/types.js';
import type { ServiceErrorCode } from '../../src/server/errors.js';
import { METHODS } from '../../src/server/protocol.js';
import type { RunningService } from '../../src/server/start.js';
import { arc, outcome, ram, size, transfer } from '../store/fixtures.js';
import { decideRequest, LineClient, startTestService, tempDir, type TempDir } from './helpers.js';

const REQUEST_CODES: readonly ServiceErrorCode[] = ['E_BAD_JSON', 'E_BAD_REQUEST', 'E_UNKNOWN_METHOD', 'E_BAD_PARAMS', 'E_BAD_SLO', 'E_BAD_SNAPSHOT', 'E_FIT_FAILED'];
const MAX_LINE_BYTES = 2048;

let tmp: TempDir;
let running: RunningService;
beforeAll(async () => {
  tmp = tempDir('vsla-fuzz-');
  running = await startTestService(tmp, { maxLineBytes: MAX_LINE_BYTES });
});
afterAll(async () => {
  await running.close();
  tmp.cleanup();
});

const hostileScalar = fc.oneof(
  fc.constantFrom(-0, -1, 0.5, 1e308, -1e308, 2 ** 53 + 2, Number.MAX_SAFE_INTEGER, '', '__proto__', 'constructor', 'PRE_COPY', 'STOP_COPY|P2P', '7', null, true),
  fc.string({ maxLength: 12 }),
  fc.double(),
  fc.integer(),
);
const hostileValue = fc.oneof(hostileScalar, fc.jsonValue({ maxDepth: 3 }), fc.constant({}), fc.constant([]));

/** A valid decide or record request with one field replaced (or removed). */
const PATHS: ReadonlyArray<readonly (string | number)[]> = [
  ['params'], ['params', 'snapshot'], ['params', 'slo'], ['params', 'snapshot', 'devices'], ['params', 'snapshot', 'devices', 0],
  ...['id', 'model', 'state', 'flags', 'stopCopyBytes', 'initialBytes', 'dirtyBytes', '__proto__'].map((k) => ['params', 'snapshot', 'devices', 0, k]),
  ...['ramRemainingBytes', 'ramDirtyBytesPerS', 'precopyBandwidthBytesPerS', 'elapsedMs', 'wwsBytes', 'link', 'serial'].map((k) => ['params', 'snapshot', k]),
  ...['deadlineMs', 'alpha', 'budgetMs'].map((k) => ['params', 'slo', k]),
];
function setPath(root: Record<string, unknown>, path: readonly (string | number)[], value: unknown, remove: boolean): void {
  let o = root as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) {
    const next = o[key];
    if (typeof next !== 'object' || next === null) return;
    o = next as Record<string | number, unknown>;
  }
  const last = path[path.length - 1]!;
  if (remove) delete o[last];
  else Object.defineProperty(o, last, { value, enumerable: true, writable: true, configurable: true });
}
const mutatedDecide = fc.tuple(fc.constantFrom(...PATHS), hostileValue, fc.boolean()).map(([path, value, remove]) => {
  const req = structuredClone(decideRequest(1));
  setPath(req, path, value, remove);
  return JSON.stringify(req);
});
const RECORDS = [arc(), ram(), size(), transfer(), outcome()];
const mutatedRecord = fc
  .tuple(fc.constantFrom(...RECORDS), fc.constantFrom('kind', 'migrationId', 'from', 'to', 'latencyMs', 'stopCopyBytes', 'ok', 'bytes', 'phase', 'pass', 'met'), hostileValue, fc.boolean())
  .map(([record, key, value, many]) => {
    const r: Record<string, unknown> = { ...record, migrationId: 'fuzz' };
    if (key in r) r[key] = value;
    return JSON.stringify({ id: 'rec', method: 'record', params: many ? { records: [r, record] } : r });
  });
const envelope = fc
  .record({
    id: fc.option(hostileValue, { nil: undefined }),
    method: fc.oneof(fc.constantFrom(...METHODS, 'nope', '__proto__', 'toString'), hostileScalar),
    params: fc.option(fc.oneof(hostileValue, fc.dictionary(fc.string({ maxLength: 8 }), hostileValue, { maxKeys: 4 })), { nil: undefined }),
  })
  .map((r) => JSON.stringify(r));
const rawText = fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }), fc.json({ maxDepth: 4 }), fc.integer({ min: 1, max: 3000 }).map((d) => `${'['.repeat(d)}${']'.repeat(d)}`));
const anyLine = fc.oneof(mutatedDecide, mutatedRecord, envelope, rawText).map((l) => l.replace(/\n/g, ' '));

function checkReply(text: string, sentLine: string | undefined): void {
  const reply = JSON.parse(text) as { id: unknown; result?: Record<string, unknown>; error?: { code: string; message: string } };
  expect(Object.keys(reply).sort()).toEqual(reply.error === undefined ? ['id', 'result'] : ['error', 'id']);
  if (reply.error !== undefined) {
    expect(REQUEST_CODES.concat('E_TOO_LARGE', 'E_NO_STORE')).toContain(reply.error.code);
    expect(typeof reply.error.message).toBe('string');
  }
  if (reply.result?.['action'] !== undefined) {
    // A deferred abort (server/defer.ts) carries the governor's own answer, which follows the table.
    const governor = (reply.result['governor'] ?? reply.result) as { action: unknown; reason: unknown };
    expect(REASON_ACTIONS[governor.reason as keyof typeof REASON_ACTIONS]).toBe(governor.action);
    if (reply.result['action'] === 'defer') expect([reply.result['reason'], governor.action]).toEqual(['NO_CALIBRATED_MODEL', 'abort']);
  }
  if (sentLine === undefined) return;
  let sent: unknown;
  try {
    sent = JSON.parse(sentLine);
  } catch {
    return;
  }
  const id = (sent as { id?: unknown } | null)?.id;
  if (typeof sent === 'object' && sent !== null && !Array.isArray(sent) && (id === undefined || id === null || typeof id !== 'object')) {
    expect(JSON.stringify(reply.id)).toBe(JSON.stringify(id ?? null));
  }
}

describe('fuzz', () => {
  it('answers every line the service is handed with one well-formed reply', async () => {
    await fc.assert(
      fc.asyncProperty(anyLine, async (line) => {
        if (line.trim().length === 0) return;
        checkReply(await running.service.handleLine(line, { connectionId: 0, line: 1 }), line);
      }),
      { numRuns: 1500 },
    );
  });

  /** How many replies a byte stream earns: one per non-blank line, one per oversized line. */
  function expectedReplies(bytes: Buffer): number {
    let n = 0;
    let start = 0;
    for (let nl = bytes.indexOf(10); nl !== -1; start = nl + 1, nl = bytes.indexOf(10, start)) {
      const line = bytes.subarray(start, nl);
      if (line.length > MAX_LINE_BYTES) n++;
      else if (line.subarray(0, line.at(-1) === 13 ? -1 : line.length).toString('utf8').trim().length > 0) n++;
    }
    return n;
  }

  it('keeps a connection usable through random bytes, oversized lines and random chunking, and serves others meanwhile', async () => {
    const lineBytes = fc.oneof(
      anyLine.map((l) => Buffer.from(l)),
      fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a.map((b) => (b === 10 ? 32 : b)))),
      fc.integer({ min: MAX_LINE_BYTES + 1, max: 3 * MAX_LINE_BYTES }).map((n) => Buffer.alloc(n, 0x7b)),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(lineBytes, { maxLength: 30 }), fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 10 }), async (lines, cuts) => {
        const hostile = await LineClient.connect(tmp.socket);
        const good = await LineClient.connect(tmp.socket);
        try {
          const stream = Buffer.concat([...lines.flatMap((l) => [l, Buffer.from('\n')]), Buffer.from('{"id":"end","method":"health"}\n')]);
          let at = 0;
          for (let i = 0; at < stream.length; i++) {
            const next = Math.min(stream.length, at + cuts[i % cuts.length]!);
            hostile.socket.write(stream.subarray(at, next));
            at = next;
            if (i % 3 === 0) expect(await good.request(decideRequest(i))).toMatchObject({ id: i, result: { action: expect.any(String) } });
          }
          // Replies are matched by id, not order: a slow request (an inline `fit`) may answer after
          // the `health` sent behind it.
          const want = expectedReplies(stream);
          const ends: unknown[] = [];
          for (let i = 0; i < want; i++) {
            const line = (await hostile.nextLine())!;
            checkReply(line, undefined);
            const reply = JSON.parse(line) as { id: unknown };
            if (reply.id === 'end') ends.push(reply);
          }
          expect(ends).toEqual([expect.objectContaining({ id: 'end', result: expect.objectContaining({ status: 'ok' }) })]);
        } finally {
          hostile.close();
          good.close();
        }
      }),
      { numRuns: 60 },
    );
  });
});
