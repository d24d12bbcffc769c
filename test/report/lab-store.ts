/**
 * A small lab's store, made by the real pieces: simulated mlx5 / QAT / NIC devices on virtual
 * clocks, pre-copy rounds of a guest whose RAM converges (ρ < 1) or not, switchovers decided by
 * four policies, everything recorded through the RecordingPipeline into SQLite.
 *
 * - `governor`: `DeadlineSetState` decides at the end of each round (and records its own arcs,
 *   RAM poll and outcome) with a model fitted (`fitModel`, package priors) on what the other
 *   policies' migrations recorded — they run first;
 * - `qemu`: switches over once its expected downtime (RAM left / bandwidth) is ≤ 300 ms, QEMU's
 *   default downtime-limit; predicts that expected downtime;
 * - `kubevirt`: switches over after 3 rounds whatever the state; predicts like QEMU;
 * - `oracle`: switches over at the round with the least RAM left; predicts the truth.
 * Non-governor arcs are recorded from the devices' `arcs$`. Source devices fail 1 % and overrun
 * 10× 3 % of their arcs. Migrations start 3 h apart from 2025-03-01 00:00 UTC.
 */
import type { Subscription } from 'rxjs';
import { buildPriors } from '../../src/estimators/priors.js';
import { compileModel, type CompiledModel } from '../../src/estimators/compile.js';
import { fitModel } from '../../src/estimators/fit.js';
import { MigState } from '../../src/fsm/index.js';
import { DeadlineSetState } from '../../src/governor/index.js';
import { VirtualClock } from '../../src/sim/clock.js';
import { Rng } from '../../src/sim/rng.js';
import { arcRecordOf } from '../../src/sim/fleet/recorder.js';
import { SimDevice } from '../../src/sim/sim-device.js';
import { openStore } from '../../src/store/store.js';
import type { RecordSink, TelemetryRecord } from '../../src/records/records.js';
import { countingRecorder } from '../helpers/recording.js';

export const LAB_POLICIES = ['governor', 'qemu', 'kubevirt', 'oracle'] as const;
export const LAB_DAY0_MS = Date.UTC(2025, 2, 1);
export const LAB_SPACING_MS = 3 * 3_600_000;
const PROFILES = ['mlx5-cx7', 'qat-vf', 'generic-nic'] as const;
const MAX_ROUNDS = 8;
const LINK_BYTES_PER_S = 2.5e9;
const PRECOPY_BYTES_PER_S = 1.25e9;
const QEMU_DOWNTIME_LIMIT_MS = 300;

async function migrate(i: number, seed: number, deadlineMs: number, sink: RecordSink, model: CompiledModel): Promise<void> {
  const policy = LAB_POLICIES[i % LAB_POLICIES.length]!;
  const id = `lab/${policy}-${String(i).padStart(3, '0')}`;
  const rng = new Rng(seed * 7919 + i);
  const clock = new VirtualClock(LAB_DAY0_MS + i * LAB_SPACING_MS);
  const faults = { arcFailProb: 0.01, overrunProb: 0.03 };
  const sources = Array.from({ length: 1 + rng.int(3) }, (_, k) => new SimDevice({ id: `0000:3b:00.${k}`, profile: PROFILES[rng.int(PROFILES.length)]!, clock, rng: rng.fork(), faults }));
  const subs: Subscription[] = [];
  const record = (d: SimDevice): void => void subs.push(d.arcs$.subscribe((e) => sink.push(arcRecordOf(e, id))));
  const stopRecording = (): void => subs.splice(0).forEach((s) => s.unsubscribe());
  sources.forEach(record);
  try {
    for (const d of sources) {
      if ((d.flags & 4) === 0) continue;
      await d.setState(MigState.PRE_COPY);
      d.readData(1 << 30);
    }
    if (policy === 'governor') stopRecording(); // DeadlineSetState records its own arcs
    const rho = rng.uniform(0.15, 1.05);
    const dirtyBytesPerS = rho * PRECOPY_BYTES_PER_S;
    let remaining = rng.uniform(0.3e9, 3e9);
    const ramAt: number[] = [];
    for (let pass = 1; ; pass++) {
      sink.push({ kind: 'ram', migrationId: id, atMs: clock.nowMs, pass, remainingBytes: Math.round(remaining), dirtyBytesPerS, bandwidthBytesPerS: PRECOPY_BYTES_PER_S });
      ramAt.push(remaining);
      await clock.sleep(Math.min(5000, (remaining / PRECOPY_BYTES_PER_S) * 1000));
      remaining = Math.max(8e6, remaining * rho * rng.lognormal(0, 0.1));
      const ram = { remainingBytes: remaining, dirtyBytesPerS, bandwidthBytesPerS: PRECOPY_BYTES_PER_S, pass };
      const vcpuStopMs = 20 * rng.lognormal(0, 0.25);
      const last = pass >= MAX_ROUNDS;
      const expectedMs = (remaining / PRECOPY_BYTES_PER_S) * 1000;
      let vm: DeadlineSetState | undefined;
      let commitAtMs = clock.nowMs;
      if (policy === 'governor') {
        vm = new DeadlineSetState(sources, { model, sink, clock, migrationId: id, alpha: 0.05 });
        const result = await vm.setState(MigState.STOP_COPY, { deadlineMs, ram, budgetMs: Infinity, onCommit: () => clock.sleep(vcpuStopMs) });
        if (result.outcome !== 'REACHED') {
          if (result.outcome === 'NOT_COMMITTED' && !last) continue;
          return;
        }
        commitAtMs = result.startedAtMs;
      } else {
        const go = policy === 'qemu' ? expectedMs <= QEMU_DOWNTIME_LIMIT_MS : policy === 'kubevirt' ? pass >= 3 : remaining <= Math.min(...ramAt) * rho * 1.05 || rho >= 1;
        if (!go && !last) continue;
        await clock.sleep(vcpuStopMs);
        await Promise.all(sources.map((d) => d.setState(MigState.STOP_COPY)));
      }
      const decidedAtMs = commitAtMs;
      const ramBytes = Math.round(remaining + dirtyBytesPerS * (vcpuStopMs / 1000));
      const deviceBytes = sources.map((d) => d.trueStopCopyBytes());
      const totalBytes = ramBytes + deviceBytes.reduce((a, b) => a + b, 0);
      const transferMs = (totalBytes / (LINK_BYTES_PER_S * rng.lognormal(0, 0.1))) * 1000;
      await clock.sleep(transferMs);
      // Half the hosts name their migration link; the rest leave it to 'default'.
      const link = i % 2 === 0 ? { link: '25G' } : {};
      sink.push({ kind: 'transfer', migrationId: id, deviceId: 'ram', phase: 'stopcopy', bytes: ramBytes, durationMs: (transferMs * ramBytes) / totalBytes, ...link });
      sources.forEach((d, k) =>
        sink.push({ kind: 'transfer', migrationId: id, deviceId: d.id, phase: 'stopcopy', bytes: deviceBytes[k]!, durationMs: (transferMs * deviceBytes[k]!) / totalBytes, ...link }),
      );
      const destinations = sources.map((d, k) => {
        const dst = new SimDevice({ id: `0000:5e:00.${k}`, profile: d.profile, clock, rng: rng.fork(), role: 'destination', stateBytes: d.stateBytes });
        dst.writeData(deviceBytes[k]!);
        return dst;
      });
      if (vm !== undefined) {
        await new DeadlineSetState(destinations, { model, sink, clock, migrationId: id }).setState(MigState.RUNNING, { deadlineMs });
      } else {
        destinations.forEach(record);
        await Promise.all(destinations.map((d) => d.setState(MigState.RUNNING)));
      }
      const actualBlackoutMs = clock.nowMs - commitAtMs;
      if (vm !== undefined) vm.recordOutcome(actualBlackoutMs);
      else {
        const predictedBlackoutMs = policy === 'oracle' ? actualBlackoutMs : expectedMs;
        sink.push({ kind: 'outcome', migrationId: id, policy, deadlineMs, decidedAtMs, predictedBlackoutMs, actualBlackoutMs, met: actualBlackoutMs <= deadlineMs });
      }
      return;
    }
  } catch {
    return; // a failed arc ended this migration; its arcs are recorded
  } finally {
    stopRecording();
  }
}

/** What {@link buildLabStore} wrote. */
export interface LabStore {
  readonly pushed: number;
  readonly errors: readonly string[];
}

/** Simulates `migrations` migrations into a new store at `dbPath`. Deterministic for a seed. */
export async function buildLabStore(dbPath: string, options: { readonly migrations?: number; readonly seed?: number; readonly deadlineMs?: number } = {}): Promise<LabStore> {
  const store = openStore(dbPath);
  const { pipeline, sink, pushed, errors } = countingRecorder(store);
  const seen: TelemetryRecord[] = [];
  const tee: RecordSink = {
    push: (r) => {
      seen.push(r);
      sink.push(r);
    },
  };
  const n = options.migrations ?? 48;
  const seed = options.seed ?? 3;
  const deadlineMs = options.deadlineMs ?? 1000;
  const priors = compileModel(buildPriors());
  // The other policies first; the governor then decides with a model fitted on what they recorded.
  for (let i = 0; i < n; i++) if (LAB_POLICIES[i % LAB_POLICIES.length] !== 'governor') await migrate(i, seed, deadlineMs, tee, priors);
  const fitted = compileModel(fitModel(seen, buildPriors(), { name: 'lab' }));
  for (let i = 0; i < n; i++) if (LAB_POLICIES[i % LAB_POLICIES.length] === 'governor') await migrate(i, seed, deadlineMs, sink, fitted);
  await pipeline.close();
  store.close();
  return { pushed: pushed(), errors };
}
