/**
 * The law-aware frontier (`app/fleet-frontier.ts` `lawAwareFrontier`) on fleet seeds 1–10
 * (`BENCH_FLEET_SEEDS` as in `bench/fleet.ts`), 300 held-out VMs each, α = 1 %, 16 redrawn
 * switchovers per VM (`BENCH_LAW_DRAWS`). Not in the default `npm run bench` (about two and a half
 * minutes per seed): `node dist-bench/bench/run.js law-frontier`.
 *
 * Keys, per seed S: `fleet_s<S>_law_aware_useful_vs_oracle` (expected completions within the
 * deadline ÷ the clairvoyant oracle's completions), `_expected_miss_rate` (÷ attempted), and the
 * same without throttling (`fleet_s<S>_law_aware_no_throttle_…`); pooled (`fleet_pooled_law_aware_…`)
 * and the worst seed (`fleet_law_aware[_no_throttle]_min_useful_vs_oracle`). What no policy that
 * cannot see the attempt's draws can beat in expectation, even knowing the simulator's law: where
 * it stays under 95 % of the oracle, the issue 17 goal is out of reach.
 *
 * And how right the governor's best-case risks are against that law (`app/risk-calibration.ts`;
 * the governor of the fleet job, run on the seed too): `fleet_s<S>_risk_vs_law_<group>`, Σ risk ÷
 * Σ law over the group's VMs of risk < 0.25, and `_vms` how many, for the groups none / main /
 * multifd; pooled over the seeds `fleet_pooled_risk_vs_law_<group>`.
 *
 * Measured (16 draws): waiting alone 98, 99, 96, 96, 97, 93, 96, 95, 97, 95 % (pooled 96.3 %);
 * throttling to the floor as well 119, 111, 117, 111, 111, 107, 114, 108, 109, 109 % (pooled
 * 111.4 %; the clairvoyant throttling oracle: 117 %); expected misses 0.94–0.99 % per seed. So the
 * goal is within a non-clairvoyant policy's reach only by throttling for slack. The governor's
 * risks against the law, pooled: no devices 2.43, main channel 0.65, multifd 0.36 — over 585, 731
 * and 855 VMs of risk < 0.25 (before the simulator logged a destination's load at the stream's
 * bytes, `sim/fleet/recorder.ts`). Before loads waited for their image (`migration-world.ts`) and
 * the fit read back-to-back arcs as one after another (`estimators/migrations.ts`): waiting alone
 * 98, 98, 94, 95, 96, 94, 93, 92, 93, 94 %, throttling 120, 111, 115, 109, 109, 109, 110, 105,
 * 105, 106 %; risks against the law 1.04, 1.72, 0.36.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lawAwareFrontier, type LawAwareFrontier } from '../src/app/fleet-frontier.js';
import { seedFigures } from '../src/app/fleet-goals.js';
import { runFleetJob } from '../src/app/fleet-job.js';
import { DATA_PHASE_GROUPS, dataPhaseGroup, riskCalibration, riskToLawRatio, type GroupCalibration, type RiskLawRow } from '../src/app/risk-calibration.js';
import { fleetSeeds } from './fleet.js';

const ALPHA = 0.01;
const MIGRATIONS = 300;
const round = (x: number): number => Math.round(x * 10_000) / 10_000;

function draws(): number {
  const raw = process.env['BENCH_LAW_DRAWS'];
  const n = raw === undefined || raw.trim() === '' ? 16 : Number(raw);
  if (!(Number.isInteger(n) && n >= 1)) throw new Error(`BENCH_LAW_DRAWS: '${String(raw)}' is not an integer ≥ 1`);
  return n;
}

/**
 * The fleet job on the seed (on a temporary database): the governor's best-case risk of each
 * held-out VM, by VM id, with its group, and the clairvoyant oracle's completions within the
 * deadline on the same VMs.
 */
async function fleetJob(seed: number): Promise<{ risks: Map<string, Omit<RiskLawRow, 'law'>>; oracleMet: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'vfio-sla-bench-law-'));
  const risks = new Map<string, Omit<RiskLawRow, 'law'>>();
  try {
    const r = await runFleetJob({
      migrations: MIGRATIONS,
      seed,
      dbPath: join(dir, 'fleet.db'),
      alpha: ALPHA,
      fittedAt: new Date().toISOString(),
      onGovernorRisk: (spec, risk) => void risks.set(spec.id, { risk, group: dataPhaseGroup(spec) }),
    });
    return { risks, oracleMet: seedFigures(r).policies.oracle.met };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `<key>` Σ risk ÷ Σ law (omitted when the law expects no miss), `<key>_vms` how many VMs. */
function putCalibration(out: Record<string, number>, key: string, g: GroupCalibration): void {
  const ratio = riskToLawRatio(g);
  if (Number.isFinite(ratio)) out[key] = round(ratio);
  out[`${key}_vms`] = g.vms;
}

export async function run(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const k = draws();
  const pooled = { oracle: 0, attempted: 0, met: 0, missed: 0, metNo: 0, missedNo: 0, min: Infinity, minNo: Infinity };
  const calibration = new Map(DATA_PHASE_GROUPS.map((g) => [g, { vms: 0, riskSum: 0, lawSum: 0 }]));
  for (const seed of fleetSeeds()) {
    const { risks, oracleMet: o } = await fleetJob(seed);
    const f: LawAwareFrontier = await lawAwareFrontier(seed, MIGRATIONS, { alpha: ALPHA, draws: k });
    const rows: RiskLawRow[] = [];
    for (const [id, r] of risks) rows.push({ ...r, law: f.lowest.get(id) ?? 1 });
    for (const g of riskCalibration(rows)) {
      putCalibration(out, `fleet_s${seed}_risk_vs_law_${g.group}`, g);
      const sum = calibration.get(g.group)!;
      calibration.set(g.group, { vms: sum.vms + g.vms, riskSum: sum.riskSum + g.riskSum, lawSum: sum.lawSum + g.lawSum });
    }
    const key = `fleet_s${seed}_law_aware`;
    out[`${key}_useful_vs_oracle`] = round(f.expectedMet / o);
    out[`${key}_expected_miss_rate`] = round(f.expectedMissed / f.attempted);
    out[`${key}_no_throttle_useful_vs_oracle`] = round(f.withoutThrottle.expectedMet / o);
    out[`${key}_no_throttle_expected_miss_rate`] = round(f.withoutThrottle.expectedMissed / f.attempted);
    pooled.oracle += o;
    pooled.attempted += f.attempted;
    pooled.met += f.expectedMet;
    pooled.missed += f.expectedMissed;
    pooled.metNo += f.withoutThrottle.expectedMet;
    pooled.missedNo += f.withoutThrottle.expectedMissed;
    pooled.min = Math.min(pooled.min, f.expectedMet / o);
    pooled.minNo = Math.min(pooled.minNo, f.withoutThrottle.expectedMet / o);
  }
  for (const [group, g] of calibration) putCalibration(out, `fleet_pooled_risk_vs_law_${group}`, { group, ...g });
  Object.assign(out, {
    fleet_pooled_law_aware_useful_vs_oracle: round(pooled.met / pooled.oracle),
    fleet_pooled_law_aware_expected_miss_rate: round(pooled.missed / pooled.attempted),
    fleet_pooled_law_aware_no_throttle_useful_vs_oracle: round(pooled.metNo / pooled.oracle),
    fleet_pooled_law_aware_no_throttle_expected_miss_rate: round(pooled.missedNo / pooled.attempted),
    fleet_law_aware_min_useful_vs_oracle: round(pooled.min),
    fleet_law_aware_no_throttle_min_useful_vs_oracle: round(pooled.minNo),
    fleet_law_aware_draws: k,
  });
  return out;
}
