/**
 * `DeadlineSetState`: SET_STATE with a deadline, for one VFIO device or all devices of a VM —
 * the kernel list's proposal (Feb 2022 seed thread, `shared/specs/vfio-uapi.md`) done in
 * userspace for any device: "the driver either returns fully completed from STOP, or back in
 * RUNNING, before the deadline", by "checking the migration size and doing the maths before
 * committing to its unabortable device command".
 *
 * ```ts
 * const vm = new DeadlineSetState([nic, qat], { model, sink: pipeline, clock: realTimeClock, migrationId });
 * const r = await vm.setState(MigState.STOP_COPY, { deadlineMs: 300, ram, budgetMs: 120_000, onCommit: pauseVcpus });
 * if (!r.committed && r.precopyLost.length === 0) keepPrecopying(r.decision); // devices are RUNNING/PRE_COPY, or in r.needsReset
 * ```
 *
 * The devices step in phases with barriers (`phases.ts`): every P2P device is quiesced
 * (RUNNING_P2P/PRE_COPY_P2P) before any stops, and on the way back — or on a destination asked
 * for RUNNING — every device is in RUNNING_P2P before any runs fully, as QEMU's
 * `vm_state_notify()` steps them.
 */
import type { MigrationDevice } from '../device/index.js';
import { compileModel, type CompiledModel } from '../estimators/predict.js';
import { MigState, planPath, stateName } from '../fsm/index.js';
import type { FittedModel } from '../estimators/types.js';
import type { OutcomeRecord } from '../records/records.js';
import { decide } from './decide.js';
import { GovernorError } from './errors.js';
import { outcomeRecord } from './outcome.js';
import { probeDevices } from './probe.js';
import { phasedLane, runPhases, type PhasedLane } from './phases.js';
import { describeFailure, type ArcRecorder } from './run-arc.js';
import type {
  DeadlineSetStateOptions,
  DeviceResult,
  SetStateOptions,
  SetStateOutcome,
  SetStateResult,
} from './set-state-types.js';
import { isPrecopyState } from './snapshot-devices.js';
import { planLane, reserveAfterArcs, runForward } from './switchover.js';
import type { Decision, VmSnapshot } from './types.js';
import { bringAllBack, type HomeTrack } from './unwind.js';

const DEFAULT_ALPHA = 0.05;

/** Per-device bookkeeping of one request. */
interface Track extends HomeTrack {
  readonly initialState: MigState;
}

/** Wraps one `MigrationDevice` or a VM's set of them; one request at a time. */
export class DeadlineSetState {
  readonly devices: readonly MigrationDevice[];
  readonly compiledModel: CompiledModel;
  private readonly options: DeadlineSetStateOptions;
  private busy = false;
  private lastCommit: { readonly decision: Decision; readonly decidedAtMs: number } | null = null;

  constructor(devices: MigrationDevice | readonly MigrationDevice[], options: DeadlineSetStateOptions) {
    const list: readonly MigrationDevice[] = isDeviceList(devices) ? [...devices] : [devices];
    if (list.length === 0) throw new GovernorError('E_BAD_REQUEST', 'DeadlineSetState needs at least one device');
    const ids = new Set(list.map((d) => d.id));
    if (ids.size !== list.length) throw new GovernorError('E_BAD_REQUEST', `device ids must be unique: ${list.map((d) => d.id).join(', ')}`);
    this.devices = list;
    this.options = options;
    this.compiledModel = isCompiled(options.model) ? options.model : compileModel(options.model);
  }

  /**
   * Moves every device to `target`, one arc per device request, each arc timed and recorded, the
   * devices in phases with barriers (all quiesced before any stops; all in RUNNING_P2P before any
   * runs). STOP_COPY is decided first (`decide()`); on `commit` the devices are driven there and
   * either all get there, or all are brought back to RUNNING/PRE_COPY: when an arc fails, or —
   * only before the point of no return, the first arc into STOP_COPY on any device — when arcs
   * overran so that finishing can no longer meet the deadline but going back can. Never resolves
   * uncommitted with a device left stopped: such a device is in `needsReset`; a device whose
   * pre-copy session ended is in `precopyLost`.
   */
  async setState(target: MigState, request: SetStateOptions): Promise<SetStateResult> {
    if (!(request.deadlineMs > 0)) {
      throw new GovernorError('E_BAD_REQUEST', `deadlineMs must be > 0, got ${String(request.deadlineMs)}`);
    }
    if (this.busy) throw new GovernorError('E_BAD_REQUEST', 'a request is already in flight on these devices');
    this.busy = true;
    try {
      return target === MigState.STOP_COPY ? await this.switchover(request) : await this.step(target, request);
    } finally {
      this.busy = false;
    }
  }

  /**
   * Records the outcome of the last committed switchover: the whole blackout the VMM measured
   * (guest paused to guest running on the destination). Closes the loop for the estimators and
   * for calibration watching.
   */
  recordOutcome(actualBlackoutMs: number): OutcomeRecord {
    const last = this.lastCommit;
    if (last === null) throw new GovernorError('E_BAD_REQUEST', 'no committed switchover to record an outcome for');
    const record = outcomeRecord(this.options.migrationId, last.decision, last.decidedAtMs, actualBlackoutMs);
    this.options.sink.push(record);
    return record;
  }

  private async switchover(request: SetStateOptions): Promise<SetStateResult> {
    const { clock, sink, migrationId } = this.options;
    const decidedAtMs = clock.nowMs;
    const ram = request.ram;
    const probed = await probeDevices(this.devices, decidedAtMs, { sink, migrationId });
    const vm: VmSnapshot = {
      devices: probed,
      ramRemainingBytes: ram?.remainingBytes ?? 0,
      ramDirtyBytesPerS: ram?.dirtyBytesPerS ?? 0,
      precopyBandwidthBytesPerS: ram?.bandwidthBytesPerS ?? 0,
      ...(ram?.wwsBytes === undefined ? {} : { wwsBytes: ram.wwsBytes }),
      elapsedMs: request.elapsedMs ?? 0,
      link: this.options.link ?? 'default',
      serial: this.options.serial ?? false,
      ...(this.options.multifdChannels === undefined ? {} : { multifdChannels: this.options.multifdChannels }),
      ...(this.options.deviceStateMultifd === undefined ? {} : { deviceStateMultifd: this.options.deviceStateMultifd }),
      ...(request.switchoverAck === undefined ? {} : { switchoverAck: request.switchoverAck }),
    };
    const alpha = request.alpha ?? this.options.alpha ?? DEFAULT_ALPHA;
    const slo = { deadlineMs: request.deadlineMs, alpha, budgetMs: request.budgetMs ?? Infinity };
    const decision = decide(vm, this.compiledModel, request.guestTimeoutMs === undefined ? slo : { ...slo, guestTimeoutMs: request.guestTimeoutMs });
    // Recorded once decide() has vouched for the figures: the RAM state the decision saw.
    if (ram !== undefined) {
      sink.push({
        kind: 'ram',
        migrationId,
        atMs: decidedAtMs,
        pass: ram.pass ?? 0,
        remainingBytes: Math.round(ram.remainingBytes),
        dirtyBytesPerS: ram.dirtyBytesPerS,
        bandwidthBytesPerS: ram.bandwidthBytesPerS,
      });
    }
    const rec = this.recorder(request.deadlineMs);

    const serial = this.options.serial ?? false;
    if (decision.action !== 'commit') {
      const startedAtMs = clock.nowMs;
      const tracks = probed.map((p, i) => track(this.devices[i]!, p.state, p.stopCopyBytes ?? 0));
      await bringAllBack(tracks, serial, rec);
      return this.result(MigState.STOP_COPY, 'NOT_COMMITTED', decision, request.deadlineMs, startedAtMs, tracks);
    }

    const tracks = probed.map((p, i) => track(this.devices[i]!, p.state, p.stopCopyBytes ?? 0));
    const lanes = tracks.map((t) => planLane(t.device, t.initialState, t.stopCopyBytes, this.compiledModel.source, t.arcs));
    const startedAtMs = clock.nowMs;
    const vcpuStopMs = decision.breakdown.find((part) => part.kind === 'vcpu-stop')?.medianMs ?? 0;
    const reserveMs = reserveAfterArcs(decision.medianBlackoutMs, vcpuStopMs, lanes, serial);
    const timing = { startedAtMs, deadlineMs: request.deadlineMs, reserveMs, serial, model: this.compiledModel.source };
    if (request.onCommit !== undefined) await request.onCommit();
    const cause = await runForward(lanes, timing, rec);
    lanes.forEach((lane, i) => {
      tracks[i]!.failure = lane.failure;
    });
    if (cause === null) {
      this.lastCommit = { decision, decidedAtMs };
      return this.result(MigState.STOP_COPY, 'REACHED', decision, request.deadlineMs, startedAtMs, tracks, reserveMs);
    }
    await bringAllBack(tracks, serial, rec);
    if (request.onResume !== undefined && tracks.every((t) => !t.needsReset)) await request.onResume();
    return this.result(
      MigState.STOP_COPY,
      cause === 'ARC_FAILED' ? 'UNWOUND_ARC_FAILED' : 'UNWOUND_OVERRUN',
      decision,
      request.deadlineMs,
      startedAtMs,
      tracks,
    );
  }

  /**
   * Any target but STOP_COPY: no decision and no unwind, just planned arcs stepped in phases and
   * recorded. This is the destination's driver too: RESUMING devices asked for RUNNING all load
   * (RESUMING → STOP), all reach RUNNING_P2P, then run; then `onResume`.
   */
  private async step(target: MigState, request: SetStateOptions): Promise<SetStateResult> {
    const { clock } = this.options;
    const startedAtMs = clock.nowMs;
    const rec = this.recorder(request.deadlineMs);
    const tracks: Track[] = [];
    const lanes: PhasedLane[] = [];
    for (const device of this.devices) {
      const state = device.getState();
      const t = track(device, state, await sizeOrZero(device));
      tracks.push(t);
      try {
        lanes.push(phasedLane(device, state, planPath(state, target, device.flags), t.stopCopyBytes, t.arcs));
      } catch (error) {
        // The kernel rejects such a request before any arc runs (-EINVAL): so do we, for all devices.
        t.failure = describeFailure(device, error);
      }
    }
    if (tracks.some((t) => t.failure !== null)) return this.result(target, 'FAILED', null, request.deadlineMs, startedAtMs, tracks);
    await runPhases(lanes, { serial: this.options.serial ?? false, rec, direction: 'forward', stopOnFailure: true });
    lanes.forEach((lane, i) => {
      tracks[i]!.failure = lane.failure;
    });
    const reached = tracks.every((t) => t.device.getState() === target);
    if (reached && target === MigState.RUNNING && request.onResume !== undefined) await request.onResume();
    return this.result(target, reached ? 'REACHED' : 'FAILED', null, request.deadlineMs, startedAtMs, tracks);
  }

  private recorder(deadlineMs: number): ArcRecorder {
    return { clock: this.options.clock, sink: this.options.sink, migrationId: this.options.migrationId, deadlineMs };
  }

  private result(
    target: MigState,
    outcome: SetStateOutcome,
    decision: Decision | null,
    deadlineMs: number,
    startedAtMs: number,
    tracks: readonly Track[],
    /** Committed STOP_COPY: the predicted median of the blackout after the arcs, ms. */
    reserveMs = 0,
  ): SetStateResult {
    const elapsedMs = this.options.clock.nowMs - startedAtMs;
    const devices: DeviceResult[] = tracks.map((t) => {
      const finalState = t.device.getState();
      return {
        id: t.device.id,
        model: t.device.model,
        initialState: t.initialState,
        finalState,
        arcs: t.arcs,
        failure: t.failure,
        needsReset: t.needsReset || finalState === MigState.ERROR,
      };
    });
    const needsReset = devices.filter((d) => d.needsReset).map((d) => d.id);
    const committed = target === MigState.STOP_COPY && outcome === 'REACHED';
    const precopyLost =
      target === MigState.STOP_COPY && !committed
        ? devices.filter((d) => isPrecopyState(d.initialState) && !isPrecopyState(d.finalState)).map((d) => d.id)
        : [];
    const settled = precopyLost.length > 0 && outcome !== 'FAILED' ? 'UNWOUND_PRECOPY_LOST' : outcome;
    const partial = { target, outcome: settled, decision, deadlineMs, elapsedMs, devices, needsReset, precopyLost };
    const metDeadline = (committed ? elapsedMs + Math.max(0, reserveMs) : elapsedMs) <= deadlineMs;
    return { ...partial, committed, startedAtMs, metDeadline, message: explain(partial) };
  }
}

function isCompiled(model: CompiledModel | FittedModel): model is CompiledModel {
  return 'devices' in model && model.devices instanceof Map;
}

function isDeviceList(devices: MigrationDevice | readonly MigrationDevice[]): devices is readonly MigrationDevice[] {
  return Array.isArray(devices);
}

function track(device: MigrationDevice, initialState: MigState, stopCopyBytes: number): Track {
  return { device, initialState, stopCopyBytes, arcs: [], failure: null, needsReset: false };
}

async function sizeOrZero(device: MigrationDevice): Promise<number> {
  try {
    return await device.stopCopyBytes();
  } catch {
    return 0;
  }
}

/** One sentence for logs: what happened and why. */
function explain(r: Pick<SetStateResult, 'target' | 'outcome' | 'decision' | 'deadlineMs' | 'elapsedMs' | 'devices' | 'needsReset' | 'precopyLost'>): string {
  const ms = (x: number): string => `${x.toFixed(1)} ms`;
  const failed = r.devices.find((d) => d.failure !== null);
  const why = failed?.failure == null ? '' : ` (${failed.id}: ${failed.failure.code})`;
  let text: string;
  switch (r.outcome) {
    case 'REACHED':
      text = `all ${r.devices.length} device(s) in ${stateName(r.target)} after ${ms(r.elapsedMs)}, deadline ${ms(r.deadlineMs)}`;
      break;
    case 'NOT_COMMITTED':
      text = `STOP_COPY not committed: ${r.decision?.action ?? '?'} ${r.decision?.reason ?? '?'} (bound ${ms(r.decision?.predictedBlackoutMs ?? NaN)}, deadline ${ms(r.deadlineMs)})`;
      break;
    case 'UNWOUND_ARC_FAILED':
      text = `an arc failed on the way to STOP_COPY${why}; devices brought back after ${ms(r.elapsedMs)}`;
      break;
    case 'UNWOUND_OVERRUN':
      text = `arcs overran: finishing would miss the ${ms(r.deadlineMs)} deadline, going back would not; devices brought back after ${ms(r.elapsedMs)}`;
      break;
    case 'UNWOUND_PRECOPY_LOST':
      text = `devices brought back after ${ms(r.elapsedMs)}${why}, but ${r.precopyLost.join(', ')} lost the pre-copy session: restart the migration`;
      break;
    case 'FAILED':
      text = `${stateName(r.target)} not reached${why}`;
      break;
  }
  return r.needsReset.length === 0 ? text : `${text}; ${r.needsReset.join(', ')} need VFIO_DEVICE_RESET`;
}
