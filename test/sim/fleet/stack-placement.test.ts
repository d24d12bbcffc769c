import { describe, expect, it } from 'vitest';
import { migrationFacts } from '../../../src/estimators/migrations.js';
import type { TelemetryRecord } from '../../../src/records/records.js';
import { TelemetryRecorder } from '../../../src/sim/fleet/recorder.js';
import { runMigration } from '../../../src/sim/fleet/run-migration.js';
import { SwitchAtPoll, vmSpec } from './helpers.js';

/** A VM with two mlx5 VFs under `qemuVersion`, switched at poll 5, and its records. */
async function migrate(qemuVersion: string | undefined, seed: number): Promise<{ blackoutMs: number; records: TelemetryRecord[] }> {
  const devices = [0, 1].map((d) => ({ id: `dev${d}`, profile: 'mlx5-cx7' as const, seed: seed * 10 + d, destSeed: seed * 10 + 5 + d }));
  const spec = vmSpec(seed, { devices, id: `vm-${seed}`, workload: 'idle', dirtyBytesPerS: 5e6, ...(qemuVersion === undefined ? {} : { qemuVersion }) });
  const records: TelemetryRecord[] = [];
  const recorder = new TelemetryRecorder({ push: (r) => records.push(r) }, 'm', spec.deadlineMs);
  const r = await runMigration(spec, new SwitchAtPoll(5), { recorder });
  return { blackoutMs: r.blackoutMs as number, records };
}

describe('the simulator under QEMU versions before and after 8.2', () => {
  it('runs the source’s STOP_COPY → STOP inside the blackout before 8.2 and after it since, recording its stack (seeds 1–10)', async () => {
    for (let seed = 1; seed <= 10; seed++) {
      const old = await migrate('8.1.0', seed);
      const now = await migrate('10.0.2', seed);
      const stopArcs = (rs: TelemetryRecord[]) => rs.filter((r) => r.kind === 'arc' && r.from === 'STOP_COPY' && r.to === 'STOP');
      // The same VM and noise: the old placement's blackout is longer by the stop arcs.
      expect(old.blackoutMs, `seed ${seed}`).toBeGreaterThan(now.blackoutMs);
      const fOld = migrationFacts('m', old.records);
      const fNow = migrationFacts('m', now.records);
      expect(fOld.qemuVersion).toBe('8.1.0');
      expect(fOld.placement).toEqual({ stopCopyToStop: 'inside', assumed: false });
      expect(fNow.placement).toEqual({ stopCopyToStop: 'outside', assumed: false });
      expect(stopArcs(old.records)).toHaveLength(2);
      // Every arc inside the blackout is one the fit subtracts: the stop arcs too, before 8.2 only.
      const stopIdx = (rs: TelemetryRecord[]) => rs.filter((r) => r.kind === 'arc').flatMap((r, i) => (r.kind === 'arc' && r.from === 'STOP_COPY' && r.to === 'STOP' ? [i] : []));
      expect(stopIdx(old.records).map((i) => fOld.arcInsideBlackout[i])).toEqual([true, true]);
      expect(stopIdx(now.records).map((i) => fNow.arcInsideBlackout[i])).toEqual([false, false]);
      expect(fOld.blackoutArcsMs).toBeGreaterThan(fNow.blackoutArcsMs);
    }
  });
});
