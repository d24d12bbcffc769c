/** Shared inputs of the tuning tests. */
import { compileModel } from '../../src/estimators/predict.js';
import { buildPriors } from '../../src/estimators/priors.js';
import type { FittedModel } from '../../src/estimators/types.js';
import type { TuneInput } from '../../src/tuning/types.js';

export const MiB = 2 ** 20;
export const GiB = 2 ** 30;

/**
 * A host model as `vfio-sla fit` gives it on the copied dataset's host: blackout link ≈ 2.35 GB/s
 * and ≈ 12 ms of fixed cost (published-numbers.md §8.1), the priors' device arcs. The priors alone
 * (1 GB/s link with σ = ln 4) leave almost no room under a 300 ms deadline at α = 0.05.
 */
export const LAB_MODEL: FittedModel = {
  ...buildPriors(),
  name: 'lab',
  provenance: 'test fixture: dataset-like link and fixed cost, prior arcs',
  links: { default: { n: 40, medianBytesPerS: 2.35e9, lowBytesPerS: 2.0e9, source: 'fitted' } },
  fixed: { n: 40, medianMs: 12, residualQuantilesMs: [-6, -5, -4, -2, 0, 3, 8, 15, 40, 120], source: 'fitted' },
  ram: { n: 40, carryMs: 100, source: 'prior' },
};
export const LAB = compileModel(LAB_MODEL);

/** The copied dataset's non-converging guest (published-numbers.md §8.1), as `fitWorkload` reads it. */
export const POSTGRES_16T: TuneInput = {
  ramBytes: 8 * GiB,
  dirtyBytesPerS: 127 * MiB,
  bandwidthBytesPerS: 128 * MiB,
  firstPassBytes: 3.3e9,
  wwsBytes: 1.15e9,
  devices: [],
  model: LAB,
  deadlineMs: 300,
  budgetMs: 120_000,
  alpha: 0.05,
};
