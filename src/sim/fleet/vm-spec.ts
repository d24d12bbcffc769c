/**
 * One VM of a simulated fleet: its guest, workload, link, devices, QEMU configuration and SLO,
 * drawn from a seeded generator. A VM is a pure function of `(fleetSeed, index)`: the same VM
 * meets every policy, and every random stream it uses later (devices, pre-copy noise, blackout
 * noise) is labelled by its seed, never shared with the policy's choices.
 */
import { SimError } from '../errors.js';
import type { SimProfile, SimProfileName } from '../profiles.js';
import { Rng } from '../rng.js';
import { BLACKOUT_LINK, GB, GiB, KUBEVIRT, MiB, QEMU_MAX_BANDWIDTH_DEFAULT_BYTES_PER_S } from './constants.js';

/** Workload classes, idle to non-converging. */
export type WorkloadRegime = 'idle' | 'light' | 'moderate' | 'heavy' | 'thrashing';

/** One pass-through device of a VM: source and destination share its profile and state size. */
export interface DeviceSpec {
  readonly id: string;
  /** A profile by name, or a profile object (a published set-up's devices). */
  readonly profile: SimProfileName | SimProfile;
  /** Seed of the source device (its size, arc noise and size-query noise). */
  readonly seed: number;
  /** Seed of the destination device. */
  readonly destSeed: number;
  /** The VMM opted in to `MIG_PRECOPY_INFOv2`, so the device may report PRE_COPY re-inits. Default false. */
  readonly precopyInfoV2?: boolean;
  /** The device's state size, bytes, instead of the profile's seeded draw (a published set-up). */
  readonly stateBytes?: number;
}

/** Everything that makes a VM's migration what it is. */
export interface VmSpec {
  readonly id: string;
  readonly index: number;
  /** Root of the VM's random streams (blackout noise, pre-copy noise). */
  readonly seed: number;
  readonly ramBytes: number;
  /** Share of guest pages that are not zero (the rest cost CPU, not link, in the first pass). */
  readonly nonZeroFraction: number;
  readonly workload: WorkloadRegime;
  /** Rate the guest dirties distinct pages, bytes/s, before any throttling. */
  readonly dirtyBytesPerS: number;
  /** Writable working set: pages dirtied between two syncs saturate here. */
  readonly wwsBytes: number;
  readonly linkGbps: number;
  /**
   * The migration link as the VMM names it on its transfers and in its `decide()` snapshots
   * ({@link linkNameOf}): what the fit learns one blackout rate for.
   */
  readonly link: string;
  /** Pre-copy rate: QEMU `max-bandwidth`, or what the channel carries if less, bytes/s. */
  readonly precopyBytesPerS: number;
  /** Median blackout transfer rate (unthrottled), bytes/s. */
  readonly blackoutBytesPerS: number;
  /** QEMU's `multifd` capability: RAM (and, see below, device state) over several channels, no single-stream cap. */
  readonly multifd: boolean;
  /**
   * QEMU `multifd-channels` (`query-migrate-parameters`; 1 when `multifd` is off): the blackout
   * rate is min(line rate, channels × one channel's cap).
   */
  readonly multifdChannels: number;
  /**
   * QEMU ≥ 10.0 vfio-pci `x-migration-multifd-transfer` in effect: each device's STOP_COPY data is
   * read by its own save thread and loaded by its own load thread, over the multifd channels and
   * in parallel with RAM (`hw/vfio/migration-multifd.c`). Off: the main channel, one device after
   * another (`vfio_save_complete_precopy()` / `vfio_load_state()`, `hw/vfio/migration.c`).
   */
  readonly deviceStateMultifd: boolean;
  readonly devices: readonly DeviceSpec[];
  /** Blackout deadline (the SLO, and the downtime limit given to QEMU/KubeVirt), ms. */
  readonly deadlineMs: number;
  /** Total migration time budget, ms. */
  readonly budgetMs: number;
  /**
   * A pause the guest itself tolerates, ms (a watchdog, a storage or network timeout inside the
   * guest; issue 20 item 8). Absent: none. The governor holds its bound to the lower of it and
   * `deadlineMs` (`Slo.guestTimeoutMs`), and a blackout past it is a miss.
   */
  readonly guestTimeoutMs?: number;
  /** QEMU `auto-converge` capability on. */
  readonly autoConverge: boolean;
  /** QEMU `avail-switchover-bandwidth`, bytes/s; 0 = unset (use the measured rate). */
  readonly availSwitchoverBytesPerS: number;
  /** QEMU `switchover-ack` on: no switchover before the destination loaded the initial bytes. */
  readonly switchoverAck: boolean;
  /**
   * The source QEMU's version, recorded as the migration's `stack`; before 8.2 the devices'
   * `STOP_COPY → STOP` runs inside the blackout (`estimators/stack.ts`). Absent: a current QEMU
   * that nobody named (no `stack` record).
   */
  readonly qemuVersion?: string;
}

/**
 * Distributions of a fleet. Every entry is a **choice** (nobody published a fleet mix), anchored
 * where it can be:
 * - RAM 4–64 GiB (the range), powers of two.
 * - Devices 0–4 per VM, profiles of `src/sim/profiles.ts`.
 * - Links 10/25/40/100 Gb/s: OPNFV's 10 GbE and OSIC's 2×10 GbE test beds (PN §6.3), 100 GbE in
 *   Szmigiero's and Ufimtseva's VFIO runs (PN §7.2, ST §5).
 * - Pre-copy rate: QEMU's 128 MiB/s default kept by some operators (the copied dataset ran on
 *   defaults, PN §8.1), raised to a share of the link by the others (`migrate-setspeed`).
 * - Workloads: dirty rates anchored on the copied dataset, ≈ 18 MiB/s (YCSB 4 threads,
 *   converges) and ≈ 127 MiB/s (16 threads, does not at 128 MiB/s) (PN §8.1); "thrashing" is
 *   Clark's MMuncher, the never-converging writer (PN §1).
 * - Deadlines: 50 ms (Google's p50 blackout), 300 ms (QEMU's default limit, Google's p99), 1 s
 *   (GCP's "usually < 1 s") (PN §5).
 * - Budget: KubeVirt's `completionTimeoutPerGiB` 150 s per decimal GB of RAM (ST §4.3).
 */
export interface FleetMix {
  readonly ramGiB: readonly number[];
  readonly maxDevices: number;
  readonly profiles: Readonly<Partial<Record<SimProfileName, number>>>;
  readonly linkGbps: Readonly<Record<string, number>>;
  /** Probability that `max-bandwidth` stays at QEMU's default. */
  readonly defaultPrecopyRateProb: number;
  /** Otherwise `max-bandwidth` = U(min, max) × line rate. */
  readonly raisedPrecopyShare: readonly [number, number];
  readonly workloads: Readonly<Record<WorkloadRegime, number>>;
  readonly deadlinesMs: Readonly<Record<string, number>>;
  readonly multifdProb: number;
  /** `multifd-channels` of a VM with multifd, drawn uniformly. */
  readonly multifdChannels: readonly number[];
  readonly autoConvergeProb: number;
  readonly availSwitchoverProb: number;
}

/** The default fleet (see {@link FleetMix} for the reasoning). */
export const DEFAULT_FLEET_MIX: FleetMix = {
  ramGiB: [4, 8, 16, 32, 64],
  maxDevices: 4,
  profiles: { 'mlx5-cx7': 0.4, 'qat-vf': 0.3, 'generic-nic': 0.3 },
  linkGbps: { '10': 0.3, '25': 0.35, '40': 0.1, '100': 0.25 },
  defaultPrecopyRateProb: 0.3,
  raisedPrecopyShare: [0.2, 0.8],
  workloads: { idle: 0.2, light: 0.3, moderate: 0.25, heavy: 0.15, thrashing: 0.1 },
  deadlinesMs: { '50': 0.15, '300': 0.5, '1000': 0.35 },
  // choice: half the hosts run QEMU ≥ 10.0 with multifd device state (ST §1.7).
  multifdProb: 0.5,
  // QEMU's `multifd-channels` default is 2 (`qapi/migration.json`); choice: operators who turn
  // multifd on also raise it, to 4, 8 or 16 (Szmigiero's RFC ran 15).
  multifdChannels: [2, 4, 8, 16],
  // choice: auto-converge is off by default in QEMU, KubeVirt and Nova (ST §3.3, §4.2–4.3); a quarter opt in.
  autoConvergeProb: 0.25,
  // choice: avail-switchover-bandwidth needs QEMU 8.2 / libvirt 11.1 (ST §1.2, §4.1); a quarter set it,
  // to the blackout rate they measured.
  availSwitchoverProb: 0.25,
};

/** Dirty rate (bytes/s) and writable working set (share of RAM) ranges per workload: all choices. */
const WORKLOAD_RANGES: Readonly<Record<WorkloadRegime, { readonly dirty: readonly [number, number]; readonly wws: readonly [number, number] }>> = {
  idle: { dirty: [1 * MiB, 10 * MiB], wws: [0.005, 0.02] },
  light: { dirty: [10 * MiB, 50 * MiB], wws: [0.02, 0.05] },
  moderate: { dirty: [50 * MiB, 300 * MiB], wws: [0.05, 0.15] },
  heavy: { dirty: [300 * MiB, 2 * GiB], wws: [0.1, 0.3] },
  thrashing: { dirty: [2 * GiB, 6 * GiB], wws: [0.2, 0.5] },
};

/** The blackout past which a VM's migration misses, ms: its deadline, or the guest's own timeout when that is lower. */
export function missLimitMs(spec: Pick<VmSpec, 'deadlineMs' | 'guestTimeoutMs'>): number {
  return Math.min(spec.deadlineMs, spec.guestTimeoutMs ?? Infinity);
}

/**
 * The link name of a VM's migration: its NIC class, `-multifd` when multifd spreads the stream
 * over several channels — e.g. `10G`, `100G-multifd`. A VMM knows both (its migration NIC and
 * its `multifd-channels`), and both set the blackout rate: one channel is capped at
 * {@link BLACKOUT_LINK}`.singleStreamCapBytesPerS` (2.2 GB/s) whatever the NIC, so a 100 GbE
 * link carries ≈ 2.2 GB/s on one channel and ≈ 10 GB/s with multifd.
 */
export function linkNameOf(linkGbps: number, multifd: boolean): string {
  return `${linkGbps}G${multifd ? '-multifd' : ''}`;
}

/**
 * What `channels` migration channels carry over a wire of `wireBytesPerS`: each channel is capped
 * at {@link BLACKOUT_LINK}`.singleStreamCapBytesPerS`, together at most the wire.
 */
export function channelsBytesPerS(wireBytesPerS: number, channels: number): number {
  return Math.min(wireBytesPerS, Math.max(1, channels) * BLACKOUT_LINK.singleStreamCapBytesPerS);
}

/** A label-derived seed: stable across runs and independent of draw order. */
export function seedOf(label: string): number {
  return Rng.from(label).uint32() | 0;
}

/** Log-uniform draw in [min, max]. */
function logUniform(rng: Rng, min: number, max: number): number {
  return Math.exp(rng.uniform(Math.log(min), Math.log(max)));
}

/** Draws VM `index` of the fleet `fleetSeed`. */
export function drawVmSpec(fleetSeed: number, index: number, mix: FleetMix = DEFAULT_FLEET_MIX): VmSpec {
  if (!Number.isInteger(index) || index < 0) throw new SimError('E_SIM_CONFIG', `VM index must be an integer ≥ 0, got ${String(index)}`);
  const id = `vm-${String(index).padStart(4, '0')}`;
  const seed = seedOf(`fleet/${fleetSeed}/${id}`);
  const rng = new Rng(seed);
  const ramGiB = mix.ramGiB[rng.int(mix.ramGiB.length)] ?? 8;
  const ramBytes = ramGiB * GiB;
  const workload = rng.weighted(mix.workloads);
  const range = WORKLOAD_RANGES[workload];
  const dirtyBytesPerS = logUniform(rng, range.dirty[0], range.dirty[1]);
  const wwsBytes = Math.round(ramBytes * rng.uniform(range.wws[0], range.wws[1]));
  // choice: 30–90 % of pages hold data (the dataset sent 0.27 × RAM for a converging run, PN §8.1).
  const nonZeroFraction = rng.uniform(0.3, 0.9);
  const linkGbps = Number(rng.weighted(mix.linkGbps));
  const lineBytesPerS = (linkGbps * 1e9) / 8;
  const maxBandwidth = rng.chance(mix.defaultPrecopyRateProb)
    ? QEMU_MAX_BANDWIDTH_DEFAULT_BYTES_PER_S
    : lineBytesPerS * rng.uniform(mix.raisedPrecopyShare[0], mix.raisedPrecopyShare[1]);
  const multifd = rng.chance(mix.multifdProb);
  const efficiency = rng.uniform(BLACKOUT_LINK.efficiencyMin, BLACKOUT_LINK.efficiencyMax);
  const wire = lineBytesPerS * efficiency;
  // Drawn from its own stream: the VM's other draws do not move with the channel choices.
  const channelRng = Rng.from(`multifd/${seed}`);
  const multifdChannels = multifd ? (mix.multifdChannels[channelRng.int(mix.multifdChannels.length)] ?? 2) : 1;
  // What the migration channel(s) carry at most: the blackout runs at this, pre-copy at its cap below it.
  const blackoutBytesPerS = channelsBytesPerS(wire, multifdChannels);
  const precopyBytesPerS = Math.min(maxBandwidth, blackoutBytesPerS);
  const deviceCount = rng.int(mix.maxDevices + 1);
  const devices: DeviceSpec[] = [];
  for (let d = 0; d < deviceCount; d++) {
    devices.push({ id: `dev${d}`, profile: rng.weighted(mix.profiles), seed: rng.uint32() | 0, destSeed: rng.uint32() | 0 });
  }
  const deadlineMs = Number(rng.weighted(mix.deadlinesMs));
  const autoConverge = rng.chance(mix.autoConvergeProb);
  // An operator who sets avail-switchover-bandwidth sets it right: the rate past blackouts showed.
  const availSwitchoverBytesPerS = rng.chance(mix.availSwitchoverProb) ? blackoutBytesPerS : 0;
  // switchover-ack: on for every VM with a PRE_COPY device (Horon's 1900 → 420 ms, ST §1.5); it only
  // matters for those, QEMU asks no ACK for the rest.
  const switchoverAck = true;
  const budgetMs = KUBEVIRT.completionTimeoutPerGbS * Math.ceil(ramBytes / GB) * 1000;
  return {
    id,
    index,
    seed,
    ramBytes,
    nonZeroFraction,
    workload,
    dirtyBytesPerS,
    wwsBytes,
    linkGbps,
    link: linkNameOf(linkGbps, multifd),
    precopyBytesPerS,
    blackoutBytesPerS,
    multifd,
    multifdChannels,
    // QEMU 10's `x-migration-multifd-transfer` default AUTO: on whenever multifd is (and the
    // switchover-start marker, on by default) — `vfio_multifd_transfer_supported()`.
    deviceStateMultifd: multifd,
    devices,
    deadlineMs,
    budgetMs,
    autoConverge,
    availSwitchoverBytesPerS,
    switchoverAck,
  };
}

/** VMs `0 … count−1` of a fleet. */
export function drawFleet(fleetSeed: number, count: number, mix: FleetMix = DEFAULT_FLEET_MIX): VmSpec[] {
  return Array.from({ length: count }, (_, i) => drawVmSpec(fleetSeed, i, mix));
}
