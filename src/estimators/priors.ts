/**
 * Priors shipped in `models/priors.json`: what to believe before this host has measured
 * anything. Each number cites the public figure it comes from (`shared/specs/published-numbers.md`,
 * `shared/specs/switchover-today.md`); where no figure exists the entry says so and is made
 * wide. Spreads are log-normal σ around the median at a typical size (σ = 1: ×0.19–×5.2 at
 * 90 %). A prior counts as a few samples (`shrink.ts`): data take over quickly.
 *
 * These are not the simulator's parameters (`src/sim/profiles.ts`): a prior must be what a
 * newcomer could know from public sources, so that fitting the simulator's output is a test.
 */
import { logNormalResidualQuantiles } from './shrink.js';
import { MODEL_VERSION, type ArcLatencyModel, type FittedModel } from './types.js';

const MB = 1_000_000;

function arc(fixedMs: number, slopeMsPerByte: number, typicalBytes: number, sigma: number, provenance: string): ArcLatencyModel {
  return {
    n: 0,
    fixedMs,
    slopeMsPerByte,
    residualQuantilesMs: logNormalResidualQuantiles(fixedMs + slopeMsPerByte * typicalBytes, sigma),
    source: 'prior',
    provenance,
  };
}

const STOP_VM =
  'Ufimtseva, qemu-devel 2024-07-26 (switchover-today.md §5 #1–2): stopping a VM took 74 ms with 1 VF, ~128 ms with 2 VFs, vCPU stop included; ~20 ms per quiesce/freeze arc, σ = 1';
const VF_SAVE =
  'Ufimtseva 2024 (switchover-today.md §5 #2): VFIO iterable save 125 and 225 ms for 2 VFs with 209 MB in total (~105 MB each): 50 ms + 1.2 ms/MB, σ = 0.8';
const VF_LOAD =
  'Ufimtseva 2024 (switchover-today.md §5 #1–2): VFIO load 144 + 67 ms (1 VF), 240/214 + 112/112 ms (2 VFs, ~105 MB each) with switchover-ack; Horon 2023 (published-numbers.md §7.2): 1480 ms for 300 MB without it: 100 ms + 2 ms/MB, σ = 0.8';
const VM_START = 'Ufimtseva 2024 (switchover-today.md §5 #1): destination vm start 16 ms, announce 7.9 ms: 10 ms per arc, σ = 1';
const CLEANUP = 'Horon, qemu-devel 2023-07/08 (published-numbers.md §7.2): STOP_COPY>STOP is up to 6 % of a ~420 ms blackout, ≈ 25 ms; σ = 1 (runs after the blackout)';
const UNPUBLISHED = 'no published figure: a short device command, 10 ms, σ = 1';

/** mlx5-cx7 typical state: ~100 MiB per VF (Szmigiero 2024, ~400 MiB over 4 VFs) to 300 MB (Horon 2023). */
const MLX5_TYPICAL_BYTES = 105 * MB;

/** NVIDIA ConnectX-7 VF (`mlx5_vfio_pci`, flags STOP_COPY|P2P|PRE_COPY). */
function mlx5Cx7(): Record<string, ArcLatencyModel> {
  const t = MLX5_TYPICAL_BYTES;
  const quiesce = arc(20, 0, t, 1, STOP_VM);
  const save = arc(50, 1.2 / MB, t, 0.8, VF_SAVE);
  const short = arc(10, 0, t, 1, UNPUBLISHED);
  const start = arc(10, 0, t, 1, VM_START);
  return {
    'RUNNING>RUNNING_P2P': quiesce,
    'PRE_COPY>PRE_COPY_P2P': quiesce,
    'RUNNING_P2P>STOP': quiesce,
    'PRE_COPY_P2P>STOP_COPY': save,
    'STOP>STOP_COPY': save,
    'RUNNING>PRE_COPY': arc(50, 1.2 / MB, t, 0.8, `initial image = a full save (mlx5 PRE_COPY commit, Yishai Hadas); ${VF_SAVE}`),
    'RUNNING_P2P>PRE_COPY_P2P': arc(50, 1.2 / MB, t, 0.8, `initial image = a full save (mlx5 PRE_COPY commit, Yishai Hadas); ${VF_SAVE}`),
    'RESUMING>STOP': arc(100, 2 / MB, t, 0.8, VF_LOAD),
    'STOP>RUNNING_P2P': start,
    'RUNNING_P2P>RUNNING': start,
    'STOP_COPY>STOP': arc(25, 0, t, 1, CLEANUP),
    'STOP>RESUMING': short,
    'PRE_COPY>RUNNING': short,
    'PRE_COPY_P2P>RUNNING_P2P': short,
    'PRE_COPY_P2P>PRE_COPY': short,
  };
}

/** Intel QAT VF (`qat_vfio_pci`, flags STOP_COPY|P2P|PRE_COPY): 4096-byte state, no published timing. */
function qatVf(): Record<string, ArcLatencyModel> {
  const why =
    'no published QAT VF arc latency; its state is one 4096-byte block (Linux drivers/vfio/pci/qat/main.c), so no size term: a PF mailbox command, 5 ms, σ = 1.2';
  const a = arc(5, 0, 4096, 1.2, why);
  const keys = [
    'RUNNING>RUNNING_P2P',
    'PRE_COPY>PRE_COPY_P2P',
    'RUNNING_P2P>STOP',
    'PRE_COPY_P2P>STOP_COPY',
    'STOP>STOP_COPY',
    'RUNNING>PRE_COPY',
    'RUNNING_P2P>PRE_COPY_P2P',
    'RESUMING>STOP',
    'STOP>RUNNING_P2P',
    'RUNNING_P2P>RUNNING',
    'STOP_COPY>STOP',
    'STOP>RESUMING',
    'PRE_COPY>RUNNING',
    'PRE_COPY_P2P>RUNNING_P2P',
    'PRE_COPY_P2P>PRE_COPY',
  ];
  return Object.fromEntries(keys.map((k) => [k, a]));
}

/** A stop-copy-only NIC VF (flags STOP_COPY): the minimal uAPI device. */
function genericNic(): Record<string, ArcLatencyModel> {
  const t = 5 * MB;
  const generic = 'no published figure for a stop-copy-only VF; ';
  return {
    'RUNNING>STOP': arc(20, 0, t, 1, `${generic}${STOP_VM}`),
    'STOP>STOP_COPY': arc(20, 1.2 / MB, t, 1, `${generic}per-byte cost from ${VF_SAVE}; fixed 20 ms, σ = 1`),
    'RESUMING>STOP': arc(50, 2 / MB, t, 1, `${generic}per-byte cost from ${VF_LOAD}; fixed 50 ms, σ = 1`),
    'STOP>RUNNING': arc(10, 0, t, 1, VM_START),
    'STOP_COPY>STOP': arc(10, 0, t, 1, UNPUBLISHED),
    'STOP>RESUMING': arc(10, 0, t, 1, UNPUBLISHED),
  };
}

/** When the priors were written (a model's `fittedAt`). */
export const PRIORS_WRITTEN_AT = '2026-01-15T00:00:00.000Z';

/** The prior model shipped as `models/priors.json`. */
export function buildPriors(): FittedModel {
  const fixedMedianMs = 20;
  return {
    version: MODEL_VERSION,
    name: 'priors',
    fittedAt: PRIORS_WRITTEN_AT,
    provenance: 'public figures only (shared/specs/published-numbers.md, switchover-today.md); no measurements of this host',
    arcs: { 'mlx5-cx7': mlx5Cx7(), 'qat-vf': qatVf(), 'generic-nic': genericNic() },
    links: {
      default: {
        n: 0,
        medianBytesPerS: 1_000_000_000,
        lowBytesPerS: 250_000_000,
        source: 'prior',
        provenance:
          'no blackout measured yet: 1 GB/s ≈ a 10 GbE line rate (OPNFV 10 GbE test bed, published-numbers.md §6.3); field figures span 293 MB/s (Proxmox log) to 1.8–2.0 GiB/s (cloud-hypervisor PR #7799); low = 250 MB/s (σ = ln 4)',
      },
    },
    fixed: {
      n: 0,
      medianMs: fixedMedianMs,
      residualQuantilesMs: logNormalResidualQuantiles(fixedMedianMs, 1),
      source: 'prior',
      provenance:
        'guest-RAM blackout without device state: OPNFV KVM4NFV 8 GiB guest 5–29 ms, Google production median 50 ms (Ruprecht et al., VEE 2018), QEMU vm start 16 ms + announce 7.9 ms (Ufimtseva 2024): 20 ms, σ = 1',
    },
    ram: {
      n: 0,
      carryMs: 100,
      source: 'prior',
      provenance:
        'QEMU re-evaluates the switchover every BUFFER_DELAY = 100 ms (migration/migration.c), so the final sync finds up to ~100 ms of dirtying beyond ram.remaining',
    },
  };
}
