/**
 * A whole simulated switchover on the virtual clock, for closed-loop tests: source devices
 * through `DeadlineSetState` to STOP_COPY, vCPU stop in `onCommit`, the blackout transfer on a
 * noisy link, destination devices through RESUMING → RUNNING, and every record (ram, size, arc,
 * transfer, outcome) in the sink, exactly as a VMM integration would produce them.
 */
import { predictBlackout, type CompiledModel } from '../../src/estimators/predict.js';
import { MigState } from '../../src/fsm/index.js';
import { DeadlineSetState, type SetStateResult } from '../../src/governor/index.js';
import { VirtualClock } from '../../src/sim/clock.js';
import type { Rng } from '../../src/sim/rng.js';
import { SimDevice } from '../../src/sim/sim-device.js';
import type { RecordSink } from '../../src/records/records.js';

const PROFILES = ['mlx5-cx7', 'qat-vf', 'generic-nic'] as const;
/** The simulated link: 2.5 GB/s median, ±10 % per migration (log-normal). */
const LINK_BYTES_PER_S = 2.5e9;
const LINK_SIGMA = 0.1;
/** vCPU stop and final sync: 20 ms median, log-normal σ 0.25. */
const VCPU_STOP_MS = 20;

export interface SimMigrationResult {
  readonly result: SetStateResult;
  readonly deadlineMs: number;
  /** Guest paused → guest running on the destination, ms; NaN when not committed. */
  readonly actualBlackoutMs: number;
}

/**
 * One migration `id` of a random VM (1–3 devices, random RAM left) drawn from `rng`, governed by
 * `model` with miss probability `alpha`. Its deadline is `deadlineFor(median, bound)`, the
 * blackout the model predicts for the VM as it truly is: tests put deadlines where the decision
 * is hard.
 */
export async function simulateMigration(
  id: string,
  rng: Rng,
  model: CompiledModel,
  sink: RecordSink,
  deadlineFor: (predictedMedianMs: number, predictedBoundMs: number) => number,
  alpha: number,
  /** The world changing under the model: link throughput × this (default 1). */
  linkScale = 1,
): Promise<SimMigrationResult> {
  const clock = new VirtualClock();
  const n = 1 + rng.int(3);
  const sources: SimDevice[] = [];
  for (let i = 0; i < n; i++) {
    const profile = PROFILES[rng.int(PROFILES.length)]!;
    sources.push(new SimDevice({ id: `${id}-d${i}`, profile, clock, rng: rng.fork() }));
  }
  for (const d of sources) {
    if ((d.flags & 4) === 0) continue;
    await d.setState(MigState.PRE_COPY);
    d.readData(1 << 30); // pre-copy sent the initial data
  }
  const ramRemainingBytes = Math.round(rng.uniform(0, 256e6));
  const ram = { remainingBytes: ramRemainingBytes, dirtyBytesPerS: rng.uniform(0, 50e6), bandwidthBytesPerS: 1e9 };
  const vcpuStopMs = VCPU_STOP_MS * rng.lognormal(0, 0.25);
  const linkBytesPerS = LINK_BYTES_PER_S * linkScale * rng.lognormal(0, LINK_SIGMA);

  const truth = sources.map((d) => ({ id: d.id, model: d.model, state: d.getState(), flags: d.flags, stopCopyBytes: d.trueStopCopyBytes() }));
  const predicted = predictBlackout(model, { devices: truth, ramRemainingBytes, ramDirtyBytesPerS: ram.dirtyBytesPerS }, alpha);
  const deadlineMs = deadlineFor(predicted.medianMs, predicted.boundMs);

  const vm = new DeadlineSetState(sources, { model, sink, clock, migrationId: id, alpha });
  const result = await vm.setState(MigState.STOP_COPY, {
    deadlineMs,
    ram,
    budgetMs: 600_000,
    onCommit: () => clock.sleep(vcpuStopMs),
  });
  if (!result.committed) return { result, deadlineMs, actualBlackoutMs: NaN };

  // The blackout transfer: RAM left (plus what the final sync finds) and every device's stream.
  const ramBytes = ramRemainingBytes + Math.round(ram.dirtyBytesPerS * (vcpuStopMs / 1000));
  const deviceBytes = sources.map((d) => d.trueStopCopyBytes());
  const totalBytes = ramBytes + deviceBytes.reduce((a, b) => a + b, 0);
  const transferMs = (totalBytes / linkBytesPerS) * 1000;
  await clock.sleep(transferMs);
  sink.push({ kind: 'transfer', migrationId: id, deviceId: 'ram', phase: 'stopcopy', bytes: ramBytes, durationMs: (transferMs * ramBytes) / totalBytes });
  sources.forEach((d, i) =>
    sink.push({ kind: 'transfer', migrationId: id, deviceId: d.id, phase: 'stopcopy', bytes: deviceBytes[i]!, durationMs: (transferMs * deviceBytes[i]!) / totalBytes }),
  );

  // The destination loads and starts (RESUMING > STOP > ... > RUNNING), in parallel.
  const destinations = sources.map((d, i) => {
    const dst = new SimDevice({ id: `${d.id}-dst`, profile: d.profile, clock, rng: rng.fork(), role: 'destination', stateBytes: d.stateBytes });
    dst.writeData(deviceBytes[i]!);
    return dst;
  });
  const dst = new DeadlineSetState(destinations, { model, sink, clock, migrationId: id });
  await dst.setState(MigState.RUNNING, { deadlineMs });
  const actualBlackoutMs = clock.nowMs - result.startedAtMs;
  vm.recordOutcome(actualBlackoutMs);
  return { result, deadlineMs, actualBlackoutMs };
}
