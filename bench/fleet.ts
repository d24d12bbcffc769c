/**
 * The fleet benchmark: the main job (`vfio-sla demo`) at its default size — 300 training
 * migrations recorded and fitted, 300 held-out migrations under each policy — on a temporary
 * database, so `data/` is left alone.
 *
 * Keys (issue 7 targets): `fleet_miss_rate_governor` (target ≤ 0.015 at α = 0.01),
 * `fleet_miss_rate_qemu` (the comparison needs ≥ 0.10 on the same fleet),
 * `fleet_miss_rate_kubevirt`, `fleet_miss_rate_oracle` (0 by construction),
 * `fleet_time_ratio_governor_vs_oracle` (mean total time over each policy's completed migrations;
 * target ≤ 1.1), `fleet_time_ratio_governor_vs_oracle_paired` (over migrations both completed),
 * `fleet_aborted_share_governor`, `fleet_aborted_share_oracle`, `fleet_runtime_ms`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runFleetJob } from '../src/app/fleet-job.js';

const round = (x: number): number => Math.round(x * 10_000) / 10_000;

/** Runs the job once; keys as in the file comment. */
export async function run(): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'vfio-sla-bench-fleet-'));
  try {
    const r = await runFleetJob({ migrations: 300, seed: 1, dbPath: join(dir, 'fleet.db'), alpha: 0.01, fittedAt: new Date().toISOString() });
    const by = (name: string) => r.policies.find((p) => p.policy === name)!;
    return {
      fleet_miss_rate_governor: round(by('governor').missRate),
      fleet_miss_rate_qemu: round(by('qemu').missRate),
      fleet_miss_rate_kubevirt: round(by('kubevirt').missRate),
      fleet_miss_rate_oracle: round(by('oracle').missRate),
      fleet_time_ratio_governor_vs_oracle: round(r.timeRatioGovernorVsOracle),
      fleet_time_ratio_governor_vs_oracle_paired: round(r.pairedTimeRatioGovernorVsOracle),
      fleet_aborted_share_governor: round(by('governor').abortedShare),
      fleet_aborted_share_oracle: round(by('oracle').abortedShare),
      fleet_runtime_ms: Math.round(r.runtimeMs.total),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
