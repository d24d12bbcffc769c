/** Shared test fixtures: temp database dirs and small valid records of every kind. */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import Database from 'better-sqlite3';
import { migrateSchema, schemaVersion } from '../../src/store/migrate.js';
import { SCHEMA_STEPS } from '../../src/store/schema.js';
import { Store } from '../../src/store/store.js';
import type { PipelineItem } from '../../src/telemetry/batch-store.js';
import type { ArcRecord, AttemptRecord, OutcomeRecord, RamRecord, SizeRecord, TelemetryRecord, TransferRecord } from '../../src/records/records.js';

/** Records as the pipeline hands them to `Store.writeBatch`, from `file` (line i + 1) when given. */
export function pipelineItems(records: readonly TelemetryRecord[], file?: string): PipelineItem[] {
  return records.map((record, i) => ({ record, source: file === undefined ? undefined : { file, line: i + 1 } }));
}

/** A fresh temp dir with a `db` path inside; `cleanup()` removes it. */
export function tempDb(prefix = 'vfio-sla-test-'): { dir: string; db: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, db: join(dir, 'test.db'), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function arc(overrides: Partial<ArcRecord> = {}): ArcRecord {
  return {
    kind: 'arc',
    migrationId: 'm1',
    deviceId: 'dev0',
    deviceModel: 'mlx5-cx7',
    from: 'PRE_COPY_P2P',
    to: 'STOP_COPY',
    startedAtMs: 1000,
    latencyMs: 12.5,
    stopCopyBytes: 4096,
    ok: true,
    ...overrides,
  };
}

export function size(overrides: Partial<SizeRecord> = {}): SizeRecord {
  return { kind: 'size', migrationId: 'm1', deviceId: 'dev0', atMs: 900, stopCopyBytes: 4096, ...overrides };
}

export function transfer(overrides: Partial<TransferRecord> = {}): TransferRecord {
  return { kind: 'transfer', migrationId: 'm1', deviceId: 'ram', phase: 'precopy', bytes: 1_000_000, durationMs: 950, ...overrides };
}

export function ram(overrides: Partial<RamRecord> = {}): RamRecord {
  return {
    kind: 'ram',
    migrationId: 'm1',
    atMs: 200,
    pass: 1,
    remainingBytes: 8_000_000,
    dirtyBytesPerS: 1_000_000,
    bandwidthBytesPerS: 134_217_728,
    ...overrides,
  };
}

export function outcome(overrides: Partial<OutcomeRecord> = {}): OutcomeRecord {
  return {
    kind: 'outcome',
    migrationId: 'm1',
    policy: 'governor',
    deadlineMs: 300,
    decidedAtMs: 1000,
    predictedBlackoutMs: 150,
    actualBlackoutMs: 120,
    met: true,
    ...overrides,
  };
}

export function attempt(overrides: Partial<AttemptRecord> = {}): AttemptRecord {
  return {
    kind: 'attempt',
    migrationId: 'm1',
    policy: 'governor',
    status: 'aborted',
    reason: 'DEADLINE_UNREACHABLE',
    deadlineMs: 300,
    totalTimeMs: 42_000,
    predictedBlackoutMs: 480,
    ...overrides,
  };
}

/** `n` distinct valid arc records (distinct start times), JSON lines ready. */
export function arcs(n: number, migrationId = 'm1'): TelemetryRecord[] {
  const out: TelemetryRecord[] = [];
  for (let i = 0; i < n; i++) out.push(arc({ migrationId, startedAtMs: 1000 + i, latencyMs: 1 + (i % 17) }));
  return out;
}

/** A child process holding `BEGIN IMMEDIATE` on `db` until `release()`. */
export async function lockFromAnotherProcess(db: string): Promise<{ release(): void }> {
  const script = `const db = require('better-sqlite3')(process.argv[1]);
    db.exec('BEGIN IMMEDIATE');
    process.stdout.write('locked\\n');
    process.stdin.once('data', () => { db.exec('COMMIT'); db.close(); process.exit(0); });`;
  const child = spawn(process.execPath, ['-e', script, db], { cwd: resolve(import.meta.dirname, '../..'), stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((ready, reject) => {
    child.stdout.once('data', () => ready());
    child.once('exit', (code) => reject(new Error(`lock holder exited with ${code}`)));
  });
  return { release: () => void child.stdin.write('go\n') };
}


/** Opens the database at `db` read-only for `f`, and closes it whatever `f` does. */
export function withStore<T>(db: string, f: (store: Store) => T): T {
  const store = Store.open(db, { readonly: true });
  try {
    return f(store);
  } finally {
    store.close();
  }
}

/** A fresh store in its own temp dir for every test of the calling file; `store()` is the current one. */
export function storePerTest(): { store(): Store } {
  let tmp: ReturnType<typeof tempDb> | undefined;
  let store: Store | undefined;
  beforeEach(() => {
    tmp = tempDb();
    store = Store.open(tmp.db);
  });
  afterEach(() => {
    store?.close();
    tmp?.cleanup();
  });
  return {
    store: () => {
      if (store === undefined) throw new Error('storePerTest: no store outside a test');
      return store;
    },
  };
}

/**
 * A database file at schema `version` (the first steps of `SCHEMA_STEPS`, as an older vfio-sla
 * wrote it) holding migration `m1` and its outcome (`outcome()`): what an in-place upgrade must keep.
 */
export function databaseAtVersion(file: string, version: number): void {
  const db = new Database(file);
  migrateSchema(db, file, SCHEMA_STEPS.slice(0, version));
  if (schemaVersion(db) !== version) throw new Error(`database at version ${schemaVersion(db)}, not ${version}`);
  db.prepare(`INSERT INTO migrations (migration_id) VALUES ('m1')`).run();
  db.prepare(`INSERT INTO outcomes VALUES (1, 'governor', 1000, 300, 150, 120, 1)`).run();
  db.close();
}
