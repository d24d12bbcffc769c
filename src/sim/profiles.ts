/**
 * Device profiles for the simulator: flags, state sizes, pre-copy behaviour and per-arc latency
 * models. Published figures are from `shared/specs/published-numbers.md` §7 and the kernel
 * sources named; every number nobody published is marked **choice** with its reasoning. These
 * are plausible, not measured: recalibrate them from real telemetry when it exists.
 */
import { MigFlags } from '../fsm/index.js';
import type { SimArcModel, SimNoiseModel } from './latency.js';
import { CHOICE_NO_P2P, CHOICE_QUIESCE, CHOICE_SESSION } from './profile-choices.js';
import { PDS_VF, VFIO_AP, XE_VF } from './profiles-stop-copy-only.js';

const KiB = 1024;
const MiB = 1024 * 1024;
/** Decimal megabyte: the cover letters write "300 MB". */
const MB = 1_000_000;

/** How far `stopCopyBytes()` (MIG_DATA_SIZE) is from the truth: `true × (1 + biasRel ± noiseRel)`. */
export interface SizeEstimateError {
  /** Systematic relative error (−0.1: always reports 10 % low). */
  readonly biasRel: number;
  /** Half-width of the uniform per-query relative error. */
  readonly noiseRel: number;
}

/** Everything that makes a simulated device model behave like itself. */
export interface SimProfile {
  /** Device model key, as estimators and telemetry use it. */
  readonly name: string;
  readonly flags: MigFlags;
  /** Device state size range; each device draws its size uniformly from it unless given one. */
  readonly stateBytesMin: number;
  readonly stateBytesMax: number;
  /** `initial_bytes` on entering PRE_COPY, as a fraction of the state size. */
  readonly initialFraction: number;
  /** Bytes only the STOP_COPY image carries whatever pre-copy sent, as a fraction of the state. */
  readonly finalImageFraction: number;
  /** Rate `dirty_bytes` grows while the device runs in a PRE_COPY state. */
  readonly dirtyRateBytesPerS: number;
  readonly sizeEstimate: SizeEstimateError;
  /** Noise of every arc without its own. */
  readonly noise: SimNoiseModel;
  /** `VFIO_DEVICE_RESET` duration. */
  readonly resetMs: number;
  /**
   * Latency model of every direct arc the profile's flags allow, keyed `"FROM>TO"`, plus the
   * arcs a device gets when its `flags` option masks optional states off.
   */
  readonly arcs: Readonly<Record<string, SimArcModel>>;
  /**
   * The driver can report `VFIO_PRECOPY_INFO_REINIT` (new initial data during PRE_COPY) to a
   * user that opted in to `MIG_PRECOPY_INFOv2`. Absent: no.
   */
  readonly precopyReinit?: boolean;
}


/**
 * NVIDIA ConnectX-7 VF under `mlx5_vfio_pci`.
 * - Flags STOP_COPY|P2P|PRE_COPY: the mlx5 driver supports PRE_COPY (Yishai Hadas' commit text:
 *   initial image on entering PRE_COPY, optional middle images, final image on STOP_COPY).
 * - State 100 MiB–300 MB: 300 MB in Avihai Horon's cover letter ("migration: Add precopy initial
 *   data capability and VFIO precopy support", qemu-devel, 2023-05-01); ~100 MiB per VF from
 *   ~400 MiB over four VFs in Maciej Szmigiero's RFC (qemu-devel, 2024-04-16).
 * - Destination load: Horon 2023 measured 1900 ms downtime without switchover-ack and 420 ms with;
 *   the 1480 ms difference is destination resource allocation for 300 MB of state, here
 *   `allocationMsPerByte` = 1480 ms / 300 MB on `RESUMING>STOP` unless the initial data was
 *   loaded first. That it scales with the state size is our assumption (one data point).
 * - `STOP_COPY>STOP` = 25 ms: Horon's P2P series (qemu-devel, 2023-07/08) cut downtime "by up to
 *   6 %" by moving this arc out of the blackout; 6 % of a ≈ 420 ms blackout ≈ 25 ms.
 * - choice: the rest of the 420 ms is split between the save arc (40 ms + 0.4 ms/MB, a 2.5 GB/s
 *   device save), the destination load (60 ms + 0.3 ms/MB) and ~10 ms P2P arcs; with a 2.5 GB/s
 *   link and ~80 ms of vCPU/RAM costs these add up to ≈ 420 ms (≈ 1900 ms without the
 *   initial-data load) for a 300 MB device.
 */
export const MLX5_CX7: SimProfile = {
  name: 'mlx5-cx7',
  flags: MigFlags.STOP_COPY | MigFlags.P2P | MigFlags.PRE_COPY,
  stateBytesMin: 100 * MiB,
  stateBytesMax: 300 * MB,
  // Yishai Hadas (mlx5 PRE_COPY commit): state is saved as an initial image on entering PRE_COPY
  // and a final image on STOP_COPY; we read the initial image as a full save (our reading).
  initialFraction: 1,
  // choice: the final image is incremental over the initial one; its share is not published.
  finalImageFraction: 0.3,
  // choice: a NIC VF's firmware state changes slowly; 2 MB/s keeps dirty_bytes small but nonzero.
  dirtyRateBytesPerS: 2 * MB,
  // choice: MIG_DATA_SIZE is documented only as an "estimated data length"; ±5 %.
  sizeEstimate: { biasRel: 0, noiseRel: 0.05 },
  // choice: ±12 % body, 2 % of arcs stall by a Pareto(α = 1.5) factor.
  noise: { sigma: 0.12, tailProb: 0.02, tailAlpha: 1.5 },
  // choice: a VF function-level reset plus driver re-init; not published.
  resetMs: 200,
  // Yishai Hadas, "vfio/mlx5: ... VFIO_PRECOPY_INFO_REINIT" (kvm list, 2026-02-24): when the
  // firmware reports a new initial-data chunk, mlx5 issues a new SAVE and reports REINIT.
  precopyReinit: true,
  arcs: {
    'RUNNING>RUNNING_P2P': { fixedMs: 10, slopeMsPerByte: 0, source: CHOICE_QUIESCE },
    'RUNNING_P2P>RUNNING': { fixedMs: 5, slopeMsPerByte: 0, source: CHOICE_QUIESCE },
    'RUNNING_P2P>STOP': { fixedMs: 10, slopeMsPerByte: 0, source: 'choice: freeze the VF; not published' },
    'STOP>RUNNING_P2P': { fixedMs: 10, slopeMsPerByte: 0, source: 'choice: unfreeze the VF; not published' },
    'PRE_COPY>PRE_COPY_P2P': { fixedMs: 10, slopeMsPerByte: 0, source: CHOICE_QUIESCE },
    'PRE_COPY_P2P>PRE_COPY': { fixedMs: 5, slopeMsPerByte: 0, source: CHOICE_QUIESCE },
    'PRE_COPY>RUNNING': { fixedMs: 5, slopeMsPerByte: 0, source: CHOICE_SESSION },
    'PRE_COPY_P2P>RUNNING_P2P': { fixedMs: 5, slopeMsPerByte: 0, source: CHOICE_SESSION },
    // Saving the initial image (a full save) while the VF keeps running.
    'RUNNING>PRE_COPY': { fixedMs: 40, slopeMsPerByte: 0.4 / MB, source: 'choice: same save cost as STOP_COPY' },
    'RUNNING_P2P>PRE_COPY_P2P': { fixedMs: 40, slopeMsPerByte: 0.4 / MB, source: 'choice: same save cost as STOP_COPY' },
    // The long, unabortable device command: heavier tail than the other arcs.
    'PRE_COPY_P2P>STOP_COPY': {
      fixedMs: 40,
      slopeMsPerByte: 0.4 / MB,
      noise: { sigma: 0.15, tailProb: 0.04, tailAlpha: 1.2 },
      source: 'choice: share of the 420 ms blackout of Horon 2023 (see profile)',
    },
    'STOP>STOP_COPY': {
      fixedMs: 40,
      slopeMsPerByte: 0.4 / MB,
      noise: { sigma: 0.15, tailProb: 0.04, tailAlpha: 1.2 },
      source: 'choice: share of the 420 ms blackout of Horon 2023 (see profile)',
    },
    'STOP_COPY>STOP': { fixedMs: 25, slopeMsPerByte: 0, source: 'Horon 2023-07/08: up to 6 % of the downtime (≈ 25 ms of 420 ms)' },
    // Arcs that exist only when a device's `flags` option masks P2P off: each is the sum of the two it replaces.
    'RUNNING>STOP': { fixedMs: 20, slopeMsPerByte: 0, source: CHOICE_NO_P2P },
    'STOP>RUNNING': { fixedMs: 15, slopeMsPerByte: 0, source: CHOICE_NO_P2P },
    'PRE_COPY>STOP_COPY': {
      fixedMs: 50,
      slopeMsPerByte: 0.4 / MB,
      noise: { sigma: 0.15, tailProb: 0.04, tailAlpha: 1.2 },
      source: CHOICE_NO_P2P,
    },
    'STOP>RESUMING': { fixedMs: 10, slopeMsPerByte: 0, source: CHOICE_SESSION },
    'RESUMING>STOP': {
      fixedMs: 60,
      slopeMsPerByte: 0.3 / MB,
      allocationMsPerByte: 1480 / (300 * MB),
      source: 'Horon 2023-05-01: 1480 ms allocation for 300 MB without initial-data pre-load; fixed and load slope are choices',
    },
  },
};

/**
 * Intel QAT GEN4 VF under `qat_vfio_pci` (Linux `drivers/vfio/pci/qat/main.c`).
 * - State 4096 bytes: "The migration data of each Intel QAT VF device is encapsulated into a
 *   4096 bytes block", in two parts: pre-configured attributes (migratable in pre-copy, used
 *   for a compatibility check) and the VF state (stop-copy only).
 * - Flags STOP_COPY|P2P|PRE_COPY: `qat_vf_pci_init_dev()` sets all three. (The issue text said
 *   STOP_COPY|P2P; the driver is the authority. Pass `flags` to a device to model the other.)
 * - choice: the two parts' split is not published; half each. The attributes are set once at VF
 *   creation, so dirty_bytes stays 0.
 * - choice: all arc costs; the size term is negligible at 4 KiB, so every slope is 0.
 */
export const QAT_VF: SimProfile = {
  name: 'qat-vf',
  flags: MigFlags.STOP_COPY | MigFlags.P2P | MigFlags.PRE_COPY,
  stateBytesMin: 4 * KiB,
  stateBytesMax: 4 * KiB,
  initialFraction: 0.5,
  finalImageFraction: 0.5,
  dirtyRateBytesPerS: 0,
  // The driver reports its fixed state_size (`qat_vf_pci_get_data_size()`): exact.
  sizeEstimate: { biasRel: 0, noiseRel: 0 },
  noise: { sigma: 0.1, tailProb: 0.01, tailAlpha: 1.5 },
  resetMs: 50,
  arcs: {
    'RUNNING>RUNNING_P2P': { fixedMs: 1, slopeMsPerByte: 0, source: CHOICE_QUIESCE },
    'RUNNING_P2P>RUNNING': { fixedMs: 1, slopeMsPerByte: 0, source: CHOICE_QUIESCE },
    'RUNNING_P2P>STOP': { fixedMs: 2, slopeMsPerByte: 0, source: 'choice: PF mailbox round trip to pause the VF' },
    'STOP>RUNNING_P2P': { fixedMs: 2, slopeMsPerByte: 0, source: 'choice: PF mailbox round trip to resume the VF' },
    'PRE_COPY>PRE_COPY_P2P': { fixedMs: 1, slopeMsPerByte: 0, source: CHOICE_QUIESCE },
    'PRE_COPY_P2P>PRE_COPY': { fixedMs: 1, slopeMsPerByte: 0, source: CHOICE_QUIESCE },
    'PRE_COPY>RUNNING': { fixedMs: 1, slopeMsPerByte: 0, source: CHOICE_SESSION },
    'PRE_COPY_P2P>RUNNING_P2P': { fixedMs: 1, slopeMsPerByte: 0, source: CHOICE_SESSION },
    'RUNNING>PRE_COPY': { fixedMs: 2, slopeMsPerByte: 0, source: 'choice: copy the pre-configured attributes' },
    'RUNNING_P2P>PRE_COPY_P2P': { fixedMs: 2, slopeMsPerByte: 0, source: 'choice: copy the pre-configured attributes' },
    'PRE_COPY_P2P>STOP_COPY': { fixedMs: 3, slopeMsPerByte: 0, source: 'choice: save the VF state via the PF' },
    'STOP>STOP_COPY': { fixedMs: 3, slopeMsPerByte: 0, source: 'choice: save the VF state via the PF' },
    'STOP_COPY>STOP': { fixedMs: 1, slopeMsPerByte: 0, source: CHOICE_SESSION },
    'RUNNING>STOP': { fixedMs: 3, slopeMsPerByte: 0, source: CHOICE_NO_P2P },
    'STOP>RUNNING': { fixedMs: 3, slopeMsPerByte: 0, source: CHOICE_NO_P2P },
    'PRE_COPY>STOP_COPY': { fixedMs: 4, slopeMsPerByte: 0, source: CHOICE_NO_P2P },
    'STOP>RESUMING': { fixedMs: 1, slopeMsPerByte: 0, source: CHOICE_SESSION },
    'RESUMING>STOP': { fixedMs: 3, slopeMsPerByte: 0, source: 'choice: check the preamble and load 4 KiB via the PF' },
  },
};

/**
 * A stop-copy-only NIC VF: the minimal uAPI device (STOP_COPY is the one mandatory flag), no P2P
 * and no PRE_COPY, so `RUNNING → STOP_COPY` is `RUNNING → STOP → STOP_COPY` and the whole state
 * moves in the blackout.
 * - choice: state 1–10 MB, as the issue set it; for scale, the out-of-tree Intel E800 (`ice`)
 *   VF driver sizes its migration region for 128 KiB (published-numbers.md §7.1).
 * - choice: all arc costs; 1 ms/MB save and load (a 1 GB/s device path).
 */
export const GENERIC_NIC: SimProfile = {
  name: 'generic-nic',
  flags: MigFlags.STOP_COPY,
  stateBytesMin: 1 * MB,
  stateBytesMax: 10 * MB,
  initialFraction: 0,
  finalImageFraction: 1,
  dirtyRateBytesPerS: 0,
  sizeEstimate: { biasRel: 0, noiseRel: 0.1 },
  noise: { sigma: 0.15, tailProb: 0.02, tailAlpha: 1.5 },
  resetMs: 100,
  arcs: {
    'RUNNING>STOP': { fixedMs: 5, slopeMsPerByte: 0, source: 'choice: stop the VF; not published' },
    'STOP>RUNNING': { fixedMs: 5, slopeMsPerByte: 0, source: 'choice: restart the VF; not published' },
    'STOP>STOP_COPY': { fixedMs: 5, slopeMsPerByte: 1 / MB, source: 'choice: 1 GB/s save' },
    'STOP_COPY>STOP': { fixedMs: 2, slopeMsPerByte: 0, source: CHOICE_SESSION },
    'STOP>RESUMING': { fixedMs: 2, slopeMsPerByte: 0, source: CHOICE_SESSION },
    'RESUMING>STOP': { fixedMs: 5, slopeMsPerByte: 1 / MB, source: 'choice: 1 GB/s load' },
  },
};

/** The built-in profiles by name (the STOP_COPY-only drivers in `profiles-stop-copy-only.ts`). */
export const SIM_PROFILES: Readonly<Record<string, SimProfile>> = {
  [MLX5_CX7.name]: MLX5_CX7,
  [QAT_VF.name]: QAT_VF,
  [GENERIC_NIC.name]: GENERIC_NIC,
  [XE_VF.name]: XE_VF,
  [PDS_VF.name]: PDS_VF,
  [VFIO_AP.name]: VFIO_AP,
};

/** Names of the built-in profiles. */
export type SimProfileName = 'mlx5-cx7' | 'qat-vf' | 'generic-nic' | 'xe-vf' | 'pds-vf' | 'vfio-ap';
