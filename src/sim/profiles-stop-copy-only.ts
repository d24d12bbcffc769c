/**
 * Drivers without PRE_COPY: their whole device state moves inside the blackout, whatever pre-copy
 * did for RAM. Flags are the drivers' own (each cited); sizes and costs nobody published are
 * marked **choice**, as in `profiles.ts`.
 */
import { MigFlags } from '../fsm/index.js';
import { CHOICE_NO_P2P, CHOICE_QUIESCE, CHOICE_SESSION } from './profile-choices.js';
import type { SimProfile } from './profiles.js';

const KiB = 1024;
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const MB = 1_000_000;


/**
 * Intel GPU VF under `xe-vfio-pci` (Linux 6.19+, `drivers/vfio/pci/xe/main.c`,
 * `xe_vfio_pci_migration_init()`: `VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P`, no PRE_COPY).
 * - State: GGTT, MMIO, GuC and VRAM packets (`enum xe_sriov_packet_type`,
 *   `drivers/gpu/drm/xe/xe_sriov_packet_types.h`); GuC data up to 8 MiB
 *   (`XE_GT_SRIOV_PF_MIGRATION_GUC_DATA_MAX_SIZE`, `xe_gt_sriov_pf_migration.h`).
 * - choice: the VRAM a VF is provisioned with dominates; 1–4 GiB here (not published per VF).
 * - choice: save and load at 5 GB/s (a blitter copy to system memory, then the data fd).
 */
export const XE_VF: SimProfile = {
  name: 'xe-vf',
  flags: MigFlags.STOP_COPY | MigFlags.P2P,
  stateBytesMin: 1 * GiB + 8 * MiB,
  stateBytesMax: 4 * GiB + 8 * MiB,
  initialFraction: 0,
  finalImageFraction: 1,
  dirtyRateBytesPerS: 0,
  // choice: the PF knows each packet's size before saving; ±2 %.
  sizeEstimate: { biasRel: 0, noiseRel: 0.02 },
  noise: { sigma: 0.12, tailProb: 0.02, tailAlpha: 1.5 },
  // choice: a VF FLR plus GuC re-provisioning; not published.
  resetMs: 300,
  arcs: {
    'RUNNING>RUNNING_P2P': { fixedMs: 5, slopeMsPerByte: 0, source: CHOICE_QUIESCE },
    'RUNNING_P2P>RUNNING': { fixedMs: 5, slopeMsPerByte: 0, source: CHOICE_QUIESCE },
    'RUNNING_P2P>STOP': { fixedMs: 20, slopeMsPerByte: 0, source: 'choice: GuC pauses the VF; not published' },
    'STOP>RUNNING_P2P': { fixedMs: 20, slopeMsPerByte: 0, source: 'choice: GuC resumes the VF; not published' },
    'STOP>STOP_COPY': { fixedMs: 30, slopeMsPerByte: 0.2 / MB, source: 'choice: 5 GB/s save of GGTT, MMIO, GuC and VRAM' },
    'STOP_COPY>STOP': { fixedMs: 5, slopeMsPerByte: 0, source: CHOICE_SESSION },
    'RUNNING>STOP': { fixedMs: 25, slopeMsPerByte: 0, source: CHOICE_NO_P2P },
    'STOP>RUNNING': { fixedMs: 25, slopeMsPerByte: 0, source: CHOICE_NO_P2P },
    'STOP>RESUMING': { fixedMs: 5, slopeMsPerByte: 0, source: CHOICE_SESSION },
    'RESUMING>STOP': { fixedMs: 30, slopeMsPerByte: 0.2 / MB, source: 'choice: 5 GB/s restore' },
  },
};

/**
 * AMD/Pensando DSC VF under `pds-vfio-pci` (`drivers/vfio/pci/pds/vfio_dev.c`,
 * `pds_vfio_init_device()`: `VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P`; the first version
 * had STOP_COPY alone). Device dirty tracking, no PRE_COPY.
 * - choice: 1–4 MiB of state (device configuration and queue state; not published); 1 GB/s.
 */
export const PDS_VF: SimProfile = {
  name: 'pds-vf',
  flags: MigFlags.STOP_COPY | MigFlags.P2P,
  stateBytesMin: 1 * MiB,
  stateBytesMax: 4 * MiB,
  initialFraction: 0,
  finalImageFraction: 1,
  dirtyRateBytesPerS: 0,
  sizeEstimate: { biasRel: 0, noiseRel: 0.05 },
  noise: { sigma: 0.15, tailProb: 0.02, tailAlpha: 1.5 },
  resetMs: 100,
  arcs: {
    'RUNNING>RUNNING_P2P': { fixedMs: 5, slopeMsPerByte: 0, source: CHOICE_QUIESCE },
    'RUNNING_P2P>RUNNING': { fixedMs: 5, slopeMsPerByte: 0, source: CHOICE_QUIESCE },
    'RUNNING_P2P>STOP': { fixedMs: 10, slopeMsPerByte: 0, source: 'choice: firmware suspends the VF; not published' },
    'STOP>RUNNING_P2P': { fixedMs: 10, slopeMsPerByte: 0, source: 'choice: firmware resumes the VF; not published' },
    'STOP>STOP_COPY': { fixedMs: 10, slopeMsPerByte: 1 / MB, source: 'choice: 1 GB/s save through the PF' },
    'STOP_COPY>STOP': { fixedMs: 2, slopeMsPerByte: 0, source: CHOICE_SESSION },
    'RUNNING>STOP': { fixedMs: 15, slopeMsPerByte: 0, source: CHOICE_NO_P2P },
    'STOP>RUNNING': { fixedMs: 15, slopeMsPerByte: 0, source: CHOICE_NO_P2P },
    'STOP>RESUMING': { fixedMs: 2, slopeMsPerByte: 0, source: CHOICE_SESSION },
    'RESUMING>STOP': { fixedMs: 10, slopeMsPerByte: 1 / MB, source: 'choice: 1 GB/s restore through the PF' },
  },
};

/**
 * s390 crypto adapter mediated device under `vfio_ap` (`drivers/s390/crypto/vfio_ap_migration.c`,
 * `vfio_ap_init_migration_capabilities()`: `VFIO_MIGRATION_STOP_COPY` only; not for Secure
 * Execution guests). Its state is the guest's AP configuration, which the destination checks.
 * - choice: 4–64 KiB (a few adapters × domains of queue information); every cost fixed.
 */
export const VFIO_AP: SimProfile = {
  name: 'vfio-ap',
  flags: MigFlags.STOP_COPY,
  stateBytesMin: 4 * KiB,
  stateBytesMax: 64 * KiB,
  initialFraction: 0,
  finalImageFraction: 1,
  dirtyRateBytesPerS: 0,
  sizeEstimate: { biasRel: 0, noiseRel: 0 },
  noise: { sigma: 0.1, tailProb: 0.01, tailAlpha: 1.5 },
  resetMs: 50,
  arcs: {
    'RUNNING>STOP': { fixedMs: 2, slopeMsPerByte: 0, source: 'choice: nothing to quiesce in the mdev; not published' },
    'STOP>RUNNING': { fixedMs: 2, slopeMsPerByte: 0, source: 'choice: not published' },
    'STOP>STOP_COPY': { fixedMs: 3, slopeMsPerByte: 0, source: 'choice: serialise the AP configuration' },
    'STOP_COPY>STOP': { fixedMs: 1, slopeMsPerByte: 0, source: CHOICE_SESSION },
    'STOP>RESUMING': { fixedMs: 1, slopeMsPerByte: 0, source: CHOICE_SESSION },
    'RESUMING>STOP': { fixedMs: 5, slopeMsPerByte: 0, source: 'choice: check the configuration against the destination host' },
  },
};
