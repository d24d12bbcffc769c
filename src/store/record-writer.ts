/**
 * The write half of the store: prepared INSERT statements per record kind, and the caches that
 * spare a lookup per record (migration id → row id, device → row id, model name → row id).
 * Used inside the store's batch transaction; every insert is `ON CONFLICT DO NOTHING` on the
 * record's stable id. Not `INSERT OR IGNORE`: that also ignores a CHECK or NOT NULL failure,
 * which would be counted as "already stored"; such a failure throws, and the writer turns the
 * record into a reject with SQLite's reason.
 */
import type Database from 'better-sqlite3';
import { parseStateName } from '../fsm/index.js';
import type { BatchWriteResult, PipelineItem } from '../telemetry/batch-store.js';
import type { ArcRecord, AttemptRecord, OutcomeRecord, RamRecord, RecordSource, SizeRecord, StackRecord, TransferRecord } from '../records/records.js';

/** Caches are cleared past this many migrations (bounded memory on a 10 M-record import). */
const MAX_CACHED_MIGRATIONS = 50_000;

function scenarioOf(migrationId: string): string | null {
  const slash = migrationId.lastIndexOf('/');
  return slash > 0 ? migrationId.slice(0, slash) : null;
}

/** The new row's id after an insert that may do nothing, or `undefined` when the row already existed. */
function rowId(info: Database.RunResult): number | undefined {
  return info.changes === 1 ? Number(info.lastInsertRowid) : undefined;
}

/** Writes pipeline items with prepared statements; call inside a transaction. */
export class RecordWriter {
  private readonly insertMigration: Database.Statement;
  private readonly selectMigration: Database.Statement;
  private readonly insertModel: Database.Statement;
  private readonly selectModel: Database.Statement;
  private readonly insertDevice: Database.Statement;
  private readonly selectDevice: Database.Statement;
  private readonly insertArc: Database.Statement;
  private readonly insertSize: Database.Statement;
  private readonly insertTransfer: Database.Statement;
  private readonly insertRam: Database.Statement;
  private readonly insertOutcome: Database.Statement;
  private readonly insertAttempt: Database.Statement;
  private readonly setSourceStack: Database.Statement;
  private readonly setDestinationStack: Database.Statement;
  private readonly insertReject: Database.Statement;
  /** migration id → row id. */
  private readonly migrationRefs = new Map<string, number>();
  /** migration row id → device id → device row id. */
  private readonly deviceRefs = new Map<number, Map<string, number>>();
  /** device model name → row id. */
  private readonly modelRefs = new Map<string, number>();

  constructor(db: Database.Database) {
    // INSERT … DO NOTHING, and SELECT only when the row already existed: half the cost of an
    // upsert with RETURNING (measured), once per migration, device or model thanks to the caches.
    this.insertMigration = db.prepare(`INSERT INTO migrations (migration_id, scenario, source_file) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`);
    this.selectMigration = db.prepare(`SELECT id FROM migrations WHERE migration_id = ?`).pluck();
    this.insertModel = db.prepare(`INSERT INTO device_models (name) VALUES (?) ON CONFLICT DO NOTHING`);
    this.selectModel = db.prepare(`SELECT id FROM device_models WHERE name = ?`).pluck();
    this.insertDevice = db.prepare(`INSERT INTO devices (migration_ref, device_id) VALUES (?, ?) ON CONFLICT DO NOTHING`);
    this.selectDevice = db.prepare(`SELECT id FROM devices WHERE migration_ref = ? AND device_id = ?`).pluck();
    this.insertArc = db.prepare(`INSERT INTO arcs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`);
    this.insertSize = db.prepare(`INSERT INTO sizes VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`);
    this.insertTransfer = db.prepare(`INSERT INTO transfers (migration_ref, device_id, phase, bytes, duration_ms, link) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`);
    this.insertRam = db.prepare(`INSERT INTO ram_progress VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`);
    this.insertOutcome = db.prepare(`INSERT INTO outcomes VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`);
    this.insertAttempt = db.prepare(`INSERT INTO attempts VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`);
    // A stack is an attribute of its migration: the first writer's version stays, as every stored field does.
    this.setSourceStack = db.prepare(`UPDATE migrations SET qemu_version = ? WHERE id = ? AND qemu_version IS NULL`);
    this.setDestinationStack = db.prepare(`UPDATE migrations SET dest_qemu_version = ? WHERE id = ? AND dest_qemu_version IS NULL`);
    this.insertReject = db.prepare(
      `INSERT OR IGNORE INTO rejects (source_file, source_line, reason, text, rejected_at_ms) VALUES (?, ?, ?, ?, ?)`,
    );
  }

  /** Forgets cached row ids: after a rollback they may name rows that no longer exist. */
  forget(): void {
    this.migrationRefs.clear();
    this.deviceRefs.clear();
    this.modelRefs.clear();
  }

  /** Writes every item; returns what happened. Must run inside a transaction. */
  writeItems(items: readonly PipelineItem[]): BatchWriteResult {
    let inserted = 0;
    let rejected = 0;
    for (const item of items) {
      const r = item.record;
      if (r === undefined) {
        const s = item.source;
        this.insertReject.run(s?.file ?? null, s?.line ?? null, item.reason, item.text, item.atMs);
        rejected++;
        continue;
      }
      const ref = this.migrationRef(r.migrationId, item.source);
      switch (r.kind) {
        case 'arc':
          inserted += this.writeArc(ref, r);
          break;
        case 'ram':
          inserted += this.writeRam(ref, r);
          break;
        case 'size':
          inserted += this.writeSize(ref, r);
          break;
        case 'transfer':
          if (r.deviceId !== 'ram') this.deviceRef(ref, r.deviceId);
          inserted += this.writeTransfer(ref, r);
          break;
        case 'outcome':
          inserted += this.writeOutcome(ref, r);
          break;
        case 'attempt':
          inserted += this.writeAttempt(ref, r);
          break;
        case 'stack':
          inserted += this.writeStack(ref, r);
          break;
      }
    }
    return { inserted, duplicates: items.length - rejected - inserted, rejected };
  }

  private writeArc(ref: number, r: ArcRecord): number {
    return this.insertArc.run(
      ref,
      this.deviceRef(ref, r.deviceId),
      parseStateName(r.from),
      parseStateName(r.to),
      r.startedAtMs,
      this.modelRef(r.deviceModel),
      r.latencyMs,
      r.stopCopyBytes,
      r.ok ? 1 : 0,
      r.errno ?? null,
      r.deadlineMs ?? null,
    ).changes;
  }

  private writeRam(ref: number, r: RamRecord): number {
    return this.insertRam.run(
      ref,
      r.atMs,
      r.pass,
      r.remainingBytes,
      r.dirtyBytesPerS,
      r.bandwidthBytesPerS,
      r.expectedDowntimeMs ?? null,
    ).changes;
  }

  private writeSize(ref: number, r: SizeRecord): number {
    return this.insertSize.run(ref, this.deviceRef(ref, r.deviceId), r.atMs, r.stopCopyBytes, r.initialBytes ?? null, r.dirtyBytes ?? null).changes;
  }

  private writeTransfer(ref: number, r: TransferRecord): number {
    return this.insertTransfer.run(ref, r.deviceId, r.phase, r.bytes, r.durationMs, r.link ?? null).changes;
  }

  private writeOutcome(ref: number, r: OutcomeRecord): number {
    return this.insertOutcome.run(
      ref,
      r.policy,
      r.decidedAtMs,
      r.deadlineMs,
      r.predictedBlackoutMs,
      r.actualBlackoutMs,
      r.met ? 1 : 0,
    ).changes;
  }

  private writeAttempt(ref: number, r: AttemptRecord): number {
    return this.insertAttempt.run(ref, r.policy, r.status, r.reason, r.deadlineMs, r.totalTimeMs, r.predictedBlackoutMs ?? null).changes;
  }

  private writeStack(ref: number, r: StackRecord): number {
    return (r.side === 'source' ? this.setSourceStack : this.setDestinationStack).run(r.qemuVersion, ref).changes;
  }

  private migrationRef(migrationId: string, source: RecordSource | undefined): number {
    const cached = this.migrationRefs.get(migrationId);
    if (cached !== undefined) return cached;
    const id = rowId(this.insertMigration.run(migrationId, scenarioOf(migrationId), source?.file ?? null)) ?? (this.selectMigration.get(migrationId) as number);
    if (this.migrationRefs.size >= MAX_CACHED_MIGRATIONS) this.forget();
    this.migrationRefs.set(migrationId, id);
    return id;
  }

  private modelRef(name: string): number {
    const cached = this.modelRefs.get(name);
    if (cached !== undefined) return cached;
    const id = rowId(this.insertModel.run(name)) ?? (this.selectModel.get(name) as number);
    this.modelRefs.set(name, id);
    return id;
  }

  /** The device's row id, recording the device the first time a migration names it. */
  private deviceRef(migrationRef: number, deviceId: string): number {
    let devices = this.deviceRefs.get(migrationRef);
    if (devices === undefined) {
      devices = new Map();
      this.deviceRefs.set(migrationRef, devices);
    }
    const cached = devices.get(deviceId);
    if (cached !== undefined) return cached;
    const id = rowId(this.insertDevice.run(migrationRef, deviceId)) ?? (this.selectDevice.get(migrationRef, deviceId) as number);
    devices.set(deviceId, id);
    return id;
  }
}
