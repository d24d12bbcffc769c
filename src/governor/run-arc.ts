/**
 * One arc, timed and recorded: the single place `DeadlineSetState` talks to a device's
 * SET_STATE. Requesting the next state of the planned path (never the final target) makes every
 * request exactly one kernel arc, so its latency is that arc's latency.
 */
import { DeviceError, type MigrationDevice } from '../device/index.js';
import { stateName, type MigState } from '../fsm/index.js';
import type { ArcRecord, RecordSink } from '../records/records.js';
import type { NowSource } from './clock.js';
import type { ArcRun, DeviceFailure } from './set-state-types.js';
import { hasStringCode } from '../json/guards.js';

/** Where arcs are timed and recorded. */
export interface ArcRecorder {
  readonly clock: NowSource;
  readonly sink: RecordSink;
  readonly migrationId: string;
  /** Deadline of the request, stored with each arc. */
  readonly deadlineMs: number;
}

/** An arc that ran, and the failure if it failed. */
export interface ArcAttempt {
  readonly run: ArcRun;
  readonly failure: DeviceFailure | null;
}

/**
 * Requests `to` (one arc from `from`), times it on the recorder's clock and pushes an `arc`
 * record with the size known when it started. Never rejects: a failed request comes back with
 * the state `getState()` reports afterwards, which is where the uAPI says the device really is.
 */
export async function runArc(
  device: MigrationDevice,
  from: MigState,
  to: MigState,
  stopCopyBytes: number,
  phase: ArcRun['phase'],
  rec: ArcRecorder,
): Promise<ArcAttempt> {
  const startedAtMs = rec.clock.nowMs;
  let failure: DeviceFailure | null = null;
  try {
    await device.setState(to);
  } catch (error) {
    failure = describeFailure(device, error);
  }
  const latencyMs = rec.clock.nowMs - startedAtMs;
  const record: ArcRecord =
    failure === null
      ? arcRecord(device, rec, from, to, startedAtMs, latencyMs, stopCopyBytes, true)
      : { ...arcRecord(device, rec, from, to, startedAtMs, latencyMs, stopCopyBytes, false), errno: failure.code };
  rec.sink.push(record);
  const run: ArcRun =
    failure === null
      ? { from, to, phase, startedAtMs, latencyMs, ok: true }
      : { from, to, phase, startedAtMs, latencyMs, ok: false, errno: failure.code };
  return { run, failure };
}

function arcRecord(
  device: MigrationDevice,
  rec: ArcRecorder,
  from: MigState,
  to: MigState,
  startedAtMs: number,
  latencyMs: number,
  stopCopyBytes: number,
  ok: boolean,
): ArcRecord {
  return {
    kind: 'arc',
    migrationId: rec.migrationId,
    deviceId: device.id,
    deviceModel: device.model,
    from: stateName(from),
    to: stateName(to),
    startedAtMs,
    latencyMs,
    // Telemetry sizes are integer bytes; an unknown size (failed query) is recorded as 0.
    stopCopyBytes: Number.isFinite(stopCopyBytes) && stopCopyBytes > 0 ? Math.round(stopCopyBytes) : 0,
    ok,
    deadlineMs: rec.deadlineMs,
  };
}

/** A thrown request as a {@link DeviceFailure}; the state is read back (MIG_DEVICE_STATE GET). */
export function describeFailure(device: MigrationDevice, error: unknown): DeviceFailure {
  const stateAfter = device.getState();
  if (error instanceof DeviceError) return { code: error.code, message: error.message, stateAfter };
  const code = hasStringCode(error) ? error.code : 'EUNKNOWN';
  const message = error instanceof Error ? error.message : String(error);
  return { code, message, stateAfter };
}
