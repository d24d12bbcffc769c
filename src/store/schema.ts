/**
 * The SQLite schema, as forward migrations: step `i` takes a database from `user_version` i to
 * i + 1. Append steps, never edit a released one — stored databases depend on them.
 *
 * Identity: every telemetry table's primary key is the record's stable id, made of the fields
 * that identify it (an arc: migration, device, from, to, start time; a RAM poll: migration,
 * time; ...), so `INSERT OR IGNORE` makes re-ingest idempotent. Tables are `WITHOUT ROWID`:
 * the key is the row's storage order (one B-tree per table, rows of one migration together),
 * and `STRICT`: a wrong type is an error, not a silent conversion. Migration, device and device
 * model strings are stored once (`migrations`, `devices`, `device_models`) and referenced by
 * integer.
 */

/** One forward step: SQL run in one transaction. */
export interface SchemaStep {
  readonly version: number;
  readonly description: string;
  readonly sql: string;
}

const V1 = `
CREATE TABLE migrations (
  id                    INTEGER PRIMARY KEY,
  migration_id          TEXT    NOT NULL UNIQUE,
  -- the migration id's prefix before its last '/', e.g. 'Precopy_Convergent' (QMP importer naming)
  scenario              TEXT,
  -- file the migration's first record came from
  source_file           TEXT,
  -- totals kept by triggers from transfers and outcomes
  transferred_bytes     INTEGER NOT NULL DEFAULT 0,
  total_time_ms         REAL    NOT NULL DEFAULT 0,
  downtime_ms           REAL,
  deadline_ms           REAL,
  predicted_blackout_ms REAL,
  met                   INTEGER,
  policy                TEXT
) STRICT;

CREATE TABLE device_models (
  id   INTEGER PRIMARY KEY,
  name TEXT    NOT NULL UNIQUE
) STRICT;

-- a device as one migration saw it (its model is on its arcs: a size poll does not name it)
CREATE TABLE devices (
  id            INTEGER PRIMARY KEY,
  migration_ref INTEGER NOT NULL REFERENCES migrations(id),
  device_id     TEXT    NOT NULL,
  UNIQUE (migration_ref, device_id)
) STRICT;

-- from_state/to_state: kernel numbering (MigState). Integers only in the key and the index:
-- far cheaper inserts than text keys. arcs_named below has the names.
CREATE TABLE arcs (
  migration_ref   INTEGER NOT NULL REFERENCES migrations(id),
  device_ref      INTEGER NOT NULL REFERENCES devices(id),
  from_state      INTEGER NOT NULL CHECK (from_state BETWEEN 0 AND 7),
  to_state        INTEGER NOT NULL CHECK (to_state BETWEEN 0 AND 7),
  started_at_ms   REAL    NOT NULL,
  model_ref       INTEGER NOT NULL REFERENCES device_models(id),
  latency_ms      REAL    NOT NULL,
  stop_copy_bytes INTEGER NOT NULL,
  ok              INTEGER NOT NULL,
  errno           TEXT,
  deadline_ms     REAL,
  PRIMARY KEY (migration_ref, device_ref, from_state, to_state, started_at_ms)
) STRICT, WITHOUT ROWID;
-- the estimators' fit and the report: arcs of one device model and arc, by time
CREATE INDEX arcs_by_model_arc ON arcs(model_ref, from_state, to_state, started_at_ms);

CREATE TABLE sizes (
  migration_ref   INTEGER NOT NULL REFERENCES migrations(id),
  device_ref      INTEGER NOT NULL REFERENCES devices(id),
  at_ms           REAL    NOT NULL,
  stop_copy_bytes INTEGER NOT NULL,
  initial_bytes   INTEGER,
  dirty_bytes     INTEGER,
  PRIMARY KEY (migration_ref, device_ref, at_ms)
) STRICT, WITHOUT ROWID;

-- no time in a transfer record: its identity is all of its fields. device_id stays text:
-- 'ram' (guest memory) is not a device.
CREATE TABLE transfers (
  migration_ref INTEGER NOT NULL REFERENCES migrations(id),
  device_id     TEXT    NOT NULL,
  phase         TEXT    NOT NULL CHECK (phase IN ('precopy', 'stopcopy')),
  bytes         INTEGER NOT NULL,
  duration_ms   REAL    NOT NULL,
  PRIMARY KEY (migration_ref, device_id, phase, bytes, duration_ms)
) STRICT, WITHOUT ROWID;
CREATE INDEX transfers_by_phase ON transfers(phase, device_id);

CREATE TABLE ram_progress (
  migration_ref          INTEGER NOT NULL REFERENCES migrations(id),
  at_ms                  REAL    NOT NULL,
  pass                   INTEGER NOT NULL,
  remaining_bytes        INTEGER NOT NULL,
  dirty_bytes_per_s      REAL    NOT NULL,
  bandwidth_bytes_per_s  REAL    NOT NULL,
  expected_downtime_ms   REAL,
  PRIMARY KEY (migration_ref, at_ms)
) STRICT, WITHOUT ROWID;

CREATE TABLE outcomes (
  migration_ref         INTEGER NOT NULL REFERENCES migrations(id),
  policy                TEXT    NOT NULL,
  decided_at_ms         REAL    NOT NULL,
  deadline_ms           REAL    NOT NULL,
  predicted_blackout_ms REAL    NOT NULL,
  actual_blackout_ms    REAL    NOT NULL,
  met                   INTEGER NOT NULL,
  PRIMARY KEY (migration_ref, policy, decided_at_ms)
) STRICT, WITHOUT ROWID;

CREATE TABLE rejects (
  id             INTEGER PRIMARY KEY,
  source_file    TEXT,
  source_line    INTEGER,
  reason         TEXT NOT NULL,
  text           TEXT NOT NULL,
  rejected_at_ms REAL NOT NULL,
  UNIQUE (source_file, source_line, reason)
) STRICT;

-- Totals follow inserts only: INSERT OR IGNORE of a duplicate fires nothing, so re-import
-- never double-counts.
CREATE TRIGGER transfers_total AFTER INSERT ON transfers BEGIN
  UPDATE migrations
     SET transferred_bytes = transferred_bytes + NEW.bytes,
         total_time_ms = total_time_ms + CASE WHEN NEW.device_id = 'ram' THEN NEW.duration_ms ELSE 0 END
   WHERE id = NEW.migration_ref;
END;

CREATE TRIGGER outcomes_latest AFTER INSERT ON outcomes BEGIN
  UPDATE migrations
     SET downtime_ms = NEW.actual_blackout_ms,
         deadline_ms = NEW.deadline_ms,
         predicted_blackout_ms = NEW.predicted_blackout_ms,
         met = NEW.met,
         policy = NEW.policy
   WHERE id = NEW.migration_ref;
END;

-- For people and other tools (DuckDB, sqlite3): names instead of references and state numbers.
CREATE TABLE mig_state_names (n INTEGER PRIMARY KEY, name TEXT NOT NULL) STRICT;
INSERT INTO mig_state_names VALUES (0, 'ERROR'), (1, 'STOP'), (2, 'RUNNING'), (3, 'STOP_COPY'),
  (4, 'RESUMING'), (5, 'RUNNING_P2P'), (6, 'PRE_COPY'), (7, 'PRE_COPY_P2P');

CREATE VIEW arcs_named AS
SELECT m.migration_id, d.device_id, dm.name AS device_model,
       s1.name || '>' || s2.name AS arc, s1.name AS from_state, s2.name AS to_state,
       a.started_at_ms, a.latency_ms, a.stop_copy_bytes, a.ok, a.errno, a.deadline_ms
  FROM arcs a
  JOIN migrations m ON m.id = a.migration_ref
  JOIN devices d ON d.id = a.device_ref
  JOIN device_models dm ON dm.id = a.model_ref
  JOIN mig_state_names s1 ON s1.n = a.from_state
  JOIN mig_state_names s2 ON s2.n = a.to_state;
`;

/**
 * The link a transfer crossed (`TransferRecord.link`, a NIC name or a class like '25G'); NULL when
 * the record did not say, which the fit reads as link 'default'. An attribute, not part of the
 * transfer's identity: the key stays (migration, device, phase, bytes, duration), so records
 * without a link keep their ids and a re-sent record with a link is a duplicate of the stored one
 * (the first writer's link stays, as every stored field does). No index: the fit reads every
 * stop-copy transfer in one scan and groups them by link itself. The length limit is
 * `MAX_LINK_NAME_LENGTH` of `telemetry/validate.ts`.
 */
const V2 = `
ALTER TABLE transfers ADD COLUMN link TEXT CHECK (link IS NULL OR length(link) BETWEEN 1 AND 128);
`;

/**
 * How every migration attempt ended (`AttemptRecord`): one row per (migration, policy), so
 * aborted, cancelled and failed migrations are counted beside the outcomes of completed ones.
 * A new table only: a version-2 database upgrades in place and reads as before (no attempts:
 * `stats` and the report then count outcomes alone, as they did). Status and reason lengths are
 * `ATTEMPT_STATUSES` and `MAX_REASON_LENGTH` of `telemetry/`.
 */
const V3 = `
CREATE TABLE attempts (
  migration_ref         INTEGER NOT NULL REFERENCES migrations(id),
  policy                TEXT    NOT NULL,
  status                TEXT    NOT NULL CHECK (status IN ('completed', 'aborted', 'cancelled', 'failed')),
  reason                TEXT    NOT NULL CHECK (length(reason) BETWEEN 1 AND 512),
  deadline_ms           REAL    NOT NULL,
  total_time_ms         REAL    NOT NULL,
  predicted_blackout_ms REAL,
  PRIMARY KEY (migration_ref, policy)
) STRICT, WITHOUT ROWID;
`;

/**
 * The stack each side of a migration ran (`StackRecord`): QEMU's version on the source and on the
 * destination, as `major.minor.micro`. Columns of `migrations`, since every record of a migration
 * shares its stack. NULL: not known — every migration stored before version 4, and those whose
 * VMM did not say; a version-3 database upgrades in place and reads as before. The format check
 * is `qemuVersion` of `telemetry/validate.ts`.
 */
const V4 = `
ALTER TABLE migrations ADD COLUMN qemu_version TEXT CHECK (qemu_version IS NULL OR qemu_version GLOB '[0-9]*.[0-9]*.[0-9]*');
ALTER TABLE migrations ADD COLUMN dest_qemu_version TEXT CHECK (dest_qemu_version IS NULL OR dest_qemu_version GLOB '[0-9]*.[0-9]*.[0-9]*');
`;

/** Every step, in order. `SCHEMA_STEPS[i].version === i + 1`. */
export const SCHEMA_STEPS: readonly SchemaStep[] = [
  { version: 1, description: 'telemetry tables, totals triggers, arcs_named view', sql: V1 },
  { version: 2, description: 'transfers.link: the link a transfer crossed', sql: V2 },
  { version: 3, description: 'attempts: how every migration attempt ended (completed, aborted, cancelled, failed)', sql: V3 },
  { version: 4, description: 'migrations.qemu_version, dest_qemu_version: the stack each side ran', sql: V4 },
];

/** The version this code writes (`PRAGMA user_version`). */
export const SCHEMA_VERSION = SCHEMA_STEPS.length;
