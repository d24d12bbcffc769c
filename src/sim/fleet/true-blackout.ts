/**
 * "What blackout would switching over right now give?", answered exactly and without side
 * effects — the oracle's knowledge. Each `SimDevice` arc takes `median(bytes) × factor`, where
 * the factor comes from the device's own seeded stream in a fixed order, whatever the bytes. A
 * dry run of clones (same seeds, a scratch clock) through the same arcs reads those factors
 * off; the rest of the blackout is the attempt's pre-drawn VM-level costs (`attempt-costs.ts`).
 * The result equals the blackout `MigrationWorld.switchover()` then measures, to rounding
 * (asserted in `test/sim/fleet`), for the first attempt, which is the only one an oracle makes.
 */
import { MigState, planPath } from '../../fsm/index.js';
import { VirtualClock } from '../clock.js';
import { medianArcLatencyMs, type SimArcModel } from '../latency.js';
import { SimDevice, type SimArcEvent } from '../sim-device.js';
import { attemptCosts, transferMs, type AttemptCosts } from './attempt-costs.js';
import { seedOf } from './vm-spec.js';
import type { DevicePair } from './device-pair.js';
import type { MigrationWorld } from './migration-world.js';

/** One arc's model and its noise factor for the first switchover. */
interface FactoredArc {
  readonly from: MigState;
  readonly to: MigState;
  readonly model: SimArcModel;
  readonly factor: number;
}

/** A device's arcs of the first switchover. */
interface DeviceFactors {
  readonly source: readonly FactoredArc[];
  readonly load: FactoredArc;
  readonly restart: readonly FactoredArc[];
}

function factored(device: SimDevice, e: SimArcEvent, unallocatedBytes = 0): FactoredArc {
  const model = device.arcModel(e.from, e.to);
  if (model === undefined) throw new Error(`${device.id}: no model for arc ${e.from}>${e.to}`);
  const median = medianArcLatencyMs(model, e.stopCopyBytes, unallocatedBytes);
  return { from: e.from, to: e.to, model, factor: median > 0 ? e.latencyMs / median : 1 };
}

/**
 * Dry-runs clones of a pair's devices to read the factors of their first switchover arcs. With
 * `redraw`, the clones are seeded by it instead of the pair's own seeds (the device's state size
 * kept): the factors of another switchover drawn from the same law.
 */
async function readFactors(pair: DevicePair, redraw?: number): Promise<DeviceFactors> {
  const clock = new VirtualClock();
  const srcSeed = redraw === undefined ? pair.spec.seed : seedOf(`redraw/${pair.spec.seed}/${redraw}/src`);
  const dstSeed = redraw === undefined ? pair.spec.destSeed : seedOf(`redraw/${pair.spec.seed}/${redraw}/dst`);
  const stateBytes = redraw === undefined ? pair.spec.stateBytes : pair.src.stateBytes;
  const src = new SimDevice({ id: 'clone-src', profile: pair.spec.profile, clock, rng: srcSeed, ...(stateBytes === undefined ? {} : { stateBytes }) });
  const dst = new SimDevice({ id: 'clone-dst', profile: pair.spec.profile, clock, rng: dstSeed, role: 'destination', stateBytes: src.stateBytes });
  const srcArcs: SimArcEvent[] = [];
  const dstArcs: SimArcEvent[] = [];
  src.arcs$.subscribe((e) => srcArcs.push(e));
  dst.arcs$.subscribe((e) => dstArcs.push(e));
  if (pair.precopy) await src.setState(MigState.PRE_COPY);
  const before = srcArcs.length;
  await src.setState(MigState.STOP_COPY);
  // Nothing written: RESUMING>STOP loads 0 bytes and allocates nothing, so its median is the fixed cost.
  await dst.setState(MigState.STOP);
  await dst.setState(MigState.RUNNING);
  const [load, ...restart] = dstArcs;
  if (load === undefined) throw new Error(`${pair.spec.id}: the destination dry run ran no arc`);
  return {
    source: srcArcs.slice(before).map((e) => factored(src, e)),
    load: factored(dst, load),
    restart: restart.map((e) => factored(dst, e)),
  };
}

/** The exact blackout of a VM's first switchover, as a function of when it starts. */
export class TrueBlackout {
  private constructor(
    private readonly factors: readonly DeviceFactors[],
    private readonly costs: AttemptCosts,
  ) {}

  /** Reads the device factors of `world`'s VM (a dry run per device on a scratch clock). */
  static async of(world: MigrationWorld): Promise<TrueBlackout> {
    if (world.attempts > 0) throw new Error('TrueBlackout is exact for the first attempt only');
    const factors: DeviceFactors[] = [];
    for (const p of world.pairs) factors.push(await readFactors(p));
    return new TrueBlackout(factors, world.nextAttemptCosts());
  }

  /**
   * Another first switchover of `world`'s VM, drawn from the simulator's law rather than read off
   * this VM's own streams: device arc factors from clones seeded by `draw`, VM-level costs and the
   * link from attempt stream `draw`, and **no stall** (its law is `attempt-costs.ts` `stallExceedance`'s). Over
   * many draws, the spread of what switching now could give — what a policy that knew the
   * simulator exactly, but not this attempt's draws, would reckon with (`sim/policies/law-aware.ts`).
   */
  static async resampled(world: MigrationWorld, draw: number): Promise<TrueBlackout> {
    if (!(Number.isInteger(draw) && draw >= 1)) throw new RangeError(`draw must be an integer ≥ 1, got ${String(draw)}`);
    const factors: DeviceFactors[] = [];
    for (const p of world.pairs) factors.push(await readFactors(p, draw));
    return new TrueBlackout(factors, { ...attemptCosts(seedOf(`redraw/${world.spec.seed}/${draw}`), 1, world.spec.ramBytes), stallMs: 0 });
  }

  /** The first attempt's rare VM-level stall, ms (0 when none): what a stall-blind oracle does not foresee. */
  get stallMs(): number {
    return this.costs.stallMs;
  }

  /**
   * The VM-level part alone (no device arcs, no device bytes): a lower bound of
   * {@link blackoutMs}, cheap enough to skip most polls with.
   */
  lowerBoundMs(world: MigrationWorld): number {
    const c = this.costs;
    return c.vcpuStopMs + c.syncMs + transferMs(world.ram.blackoutBytes, world.spec.blackoutBytesPerS, c) + c.nonIterableMs + c.destStartMs + c.stallMs;
  }

  /**
   * The blackout (ms) a first switchover starting now would measure. Call right after a poll
   * (device pre-copy bookkeeping is as of the poll); only valid before any attempt.
   */
  blackoutMs(world: MigrationWorld): number {
    if (world.attempts > 0) throw new Error('TrueBlackout is exact for the first attempt only');
    const costs = this.costs;
    // QEMU's way (`enterDirect`, the first attempt an oracle makes): source arcs and restart one
    // device after another.
    const t0 = world.nowMs + costs.vcpuStopMs;
    let srcPhase = 0;
    const streamBytes: number[] = [];
    const resume: number[] = [];
    world.pairs.forEach((p, i) => {
      const f = this.factors[i]!;
      const chain = sourceChain(p, f.source, world.nowMs, t0 + srcPhase);
      srcPhase += chain.ms;
      streamBytes.push(chain.streamBytes);
      resume.push(p.destWrittenBytes + chain.streamBytes);
    });
    const loads: number[] = [];
    let restartPhase = 0;
    world.pairs.forEach((p, i) => {
      const f = this.factors[i]!;
      const bytes = resume[i]!;
      const unallocated = Math.max(0, Math.min(bytes, p.dst.stateBytes) - p.destAllocatedBytes);
      loads.push(medianArcLatencyMs(f.load.model, bytes, unallocated) * f.load.factor);
      // After RESUMING>STOP the destination's state is what was written: restart arcs see that size.
      let restart = 0;
      for (const a of f.restart) restart += medianArcLatencyMs(a.model, bytes) * a.factor;
      restartPhase += restart;
    });
    const data = dataPhaseMs(world, world.ram.blackoutBytes, streamBytes, loads, costs);
    return costs.vcpuStopMs + srcPhase + costs.syncMs + data + costs.nonIterableMs + restartPhase + costs.destStartMs + costs.stallMs;
  }
}

/**
 * The stop-copy data phase as `MigrationWorld.moveAndLoad()` runs it: over multifd the wire beside
 * every device's stream then load (the longest); on the main channel RAM, then per device its
 * stream then its load, one device after another.
 */
function dataPhaseMs(world: MigrationWorld, ramBytes: number, streamBytes: readonly number[], loads: readonly number[], costs: AttemptCosts): number {
  const rate = world.spec.blackoutBytesPerS;
  if (world.spec.deviceStateMultifd) {
    const all = streamBytes.reduce((s, b) => s + b, ramBytes);
    return loads.reduce((m, l, i) => Math.max(m, transferMs(streamBytes[i] ?? 0, rate, costs) + l), transferMs(all, rate, costs));
  }
  let ms = transferMs(ramBytes, rate, costs);
  loads.forEach((l, i) => {
    ms += transferMs(streamBytes[i] ?? 0, world.mainChannelBytesPerS, costs) + l;
  });
  return ms;
}

/**
 * A source device's way into STOP_COPY starting at `startMs`: its time and the stream it leaves.
 * In PRE_COPY the size is final image + pending initial + dirty; dirtying accrues until the first
 * arc starts and not during arcs (`DataSession.completeArc` restarts it at each arc's end, and a
 * PRE_COPY_P2P device's next arc starts at once).
 */
function sourceChain(p: DevicePair, arcs: readonly FactoredArc[], nowMs: number, startMs: number): { ms: number; streamBytes: number } {
  const state = p.src.getState();
  const precopy = state === MigState.PRE_COPY || state === MigState.PRE_COPY_P2P;
  // The dry run started where pre-copy leaves the device: PRE_COPY if it has it, else RUNNING.
  if (state !== (p.precopy ? MigState.PRE_COPY : MigState.RUNNING)) {
    throw new Error(`${p.spec.id}: source in state ${state}, not where the dry run started (${planPath(state, MigState.STOP_COPY, p.src.flags).length} arcs)`);
  }
  let bytes: number;
  if (precopy) {
    const dirty = Math.min(p.src.stateBytes, p.pendingDirtyBytes + (p.src.dirtyRateBytesPerS * (startMs - nowMs)) / 1000);
    bytes = Math.round(p.src.stateBytes * p.src.profile.finalImageFraction) + p.pendingInitialBytes + Math.round(dirty);
  } else {
    bytes = p.src.stateBytes;
  }
  let ms = 0;
  for (const a of arcs) ms += medianArcLatencyMs(a.model, bytes) * a.factor;
  return { ms, streamBytes: bytes };
}
