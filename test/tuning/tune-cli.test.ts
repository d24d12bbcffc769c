import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { stringifyModel } from '../../src/estimators/model-json.js';
import { captureIo } from '../cli/io.js';
import { DATASET_DIR, HAVE_DATASET } from '../helpers/dataset.js';
import { LAB_MODEL } from './fixtures.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vfio-sla-tune-'));
  writeFileSync(join(dir, 'lab.json'), stringifyModel(LAB_MODEL));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function tune(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = captureIo(dir);
  const code = await runCli(['tune', ...args], io);
  return { code, out: io.out(), err: io.err() };
}

const ISSUE = ['--ram', '8GiB', '--dirty-rate', '127MiB/s', '--bandwidth', '128MiB/s', '--deadline', '300ms', '--budget', '120s'];
const KNOWN = [...ISSUE, '--first-pass', '3.3GB', '--wws', '1.1GB', '--model', 'lab.json'];

describe('vfio-sla tune', () => {
  it('runs the issue’s example: without the first pass or working set, 120 s is too short; it says so and prints the trade-offs (exit 3)', async () => {
    const r = await tune(...ISSUE);
    expect(r.code).toBe(3);
    expect(r.out).toContain('VM: 8.00 GiB RAM, dirty 127 MiB/s (planned 140 MiB/s), pre-copy 128 MiB/s: rho = 0.992');
    expect(r.out).toContain('No setting meets both the deadline and the budget (BUDGET_TOO_SHORT).');
    expect(r.out).toContain('Trade-offs (throttle vs time vs blackout, non-dominated):');
    expect(r.out).toMatch(/auto-converge {2}initial 99 % \+10 % max 99 % .* fits-later/);
  });

  it('recommends a throttle and the switchover knobs when the workload is known, as QMP arguments', async () => {
    const r = await tune(...KNOWN);
    expect(r.code).toBe(0);
    expect(r.out).toContain('Recommended (THROTTLE): auto-converge');
    expect(r.out).toMatch(/migrate-set-capabilities auto-converge=on; migrate-set-parameters downtime-limit=\d+ avail-switchover-bandwidth=2350000000 cpu-throttle-initial=\d+ cpu-throttle-increment=\d+ max-cpu-throttle=\d+/);
    expect(r.out).toMatch(/blackout median .* bound (2\d\d|\d\d) ms \(alpha 0.05\)/);
  });

  it('picks dirty-limit for skewed per-vCPU rates and prints everything as JSON with --json', async () => {
    const r = await tune(...KNOWN, '--vcpu-dirty-rate', '100MiB/s, 10MiB/s, 10MiB/s, 7MiB/s', '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as {
      input: { ramBytes: number; dirtyBytesPerS: number; vcpuDirtyBytesPerS: number[]; deadlineMs: number; budgetMs: number; dirtyRateMargin: number };
      feasible: boolean;
      recommended: { mechanism: string; capabilities: string[]; parameters: Record<string, number>; predicted: { meetsDeadline: boolean; withinBudget: boolean } };
      alternatives: unknown[];
      tradeOffs: unknown[];
    };
    expect(j.input).toMatchObject({ ramBytes: 8 * 2 ** 30, dirtyBytesPerS: 127 * 2 ** 20, deadlineMs: 300, budgetMs: 120_000, dirtyRateMargin: 0.1 });
    expect(j.input.vcpuDirtyBytesPerS).toEqual([100, 10, 10, 7].map((m) => m * 2 ** 20));
    expect(j.feasible).toBe(true);
    expect(j.recommended.mechanism).toBe('dirty-limit');
    expect(j.recommended.capabilities).toEqual(['dirty-limit']);
    expect(Object.keys(j.recommended.parameters)).toEqual(['downtime-limit', 'avail-switchover-bandwidth', 'vcpu-dirty-limit']);
    expect(j.recommended.predicted).toMatchObject({ meetsDeadline: true, withinBudget: true });
    expect(j.alternatives).toHaveLength(1);
  });

  it.each([
    [['--dirty-rate', '127MiB'], "--dirty-rate: '127MiB' is not a rate"],
    [['--ram', '8'], "--ram: '8' is not a size"],
    [['--deadline', '300'], "--deadline: '300' is not a duration"],
    [['--budget', '0s'], "--budget: must be more than zero, got '0s'"],
    [['--bandwidth', '1Gbit'], "--bandwidth: '1Gbit' is not a rate"],
    [['--vcpu-dirty-rate', '10MiB/s,x'], "--vcpu-dirty-rate: 'x' is not a rate"],
    [['--device', 'nope:1GB'], "--device: device model 'nope' is not in the model"],
    [['--device', 'mlx5-cx7'], "--device: 'mlx5-cx7' is not <model>:<size>"],
    [['--mechanism', 'postcopy'], "--mechanism: 'postcopy' is not one of none, auto-converge, dirty-limit"],
    [['--alpha', '1'], '--alpha must be a number in (0, 1)'],
    [['--vcpus', '0'], '--vcpus must be an integer ≥ 1'],
    [['--multifd-channels', '0'], "--multifd-channels must be an integer in [1, 255], got '0'"],
    [['--multifd-channels', 'four'], "--multifd-channels must be an integer, got 'four'"],
    [['--multifd-channels', '256'], "--multifd-channels must be an integer in [1, 255], got '256'"],
    [['--qemu-version', '9.2'], "--qemu-version must be major.minor.micro (e.g. 9.2.0), got '9.2'"],
    [['--link', 'x'.repeat(129)], '--link must be 1-128 characters'],
    [['--frobnicate'], "Unknown option '--frobnicate'"],
  ])('rejects %j naming the option and value (exit 2)', async (bad, message) => {
    const args = [...ISSUE];
    const flag = bad[0] as string;
    const i = args.indexOf(flag);
    if (i >= 0 && bad.length === 2) args.splice(i, 2, ...bad);
    else args.push(...bad);
    const r = await tune(...args);
    expect(r.code).toBe(2);
    expect(r.err).toContain(message);
    expect(r.err).toContain('(see: vfio-sla tune --help)');
  });

  it('plans with the link, the channels and the source QEMU it is told: the bound and the knobs follow them', async () => {
    type Out = { input: { link?: string; multifdChannels?: number; qemuVersion?: string; serial?: boolean }; tradeOffs: { mechanism: string; blackoutBoundMs: number }[]; notes: string[] };
    /** The bound with no throttle (always among the trade-offs). */
    const unthrottled = (o: Out): number | undefined => o.tradeOffs.find((t) => t.mechanism === 'none')?.blackoutBoundMs;
    const withDevice = [...KNOWN, '--device', 'mlx5-cx7:300MB', '--deadline', '2s', '--json'];
    const base = JSON.parse((await tune(...withDevice)).out) as Out;
    // QEMU steps the devices one after another in its own switchover, which the knobs steer.
    expect(base.input.serial).toBe(true);
    // Before QEMU 8.2 the source stops each device inside the blackout: a longer bound.
    const old = JSON.parse((await tune(...withDevice, '--qemu-version', '7.2.0')).out) as Out;
    expect(old.input.qemuVersion).toBe('7.2.0');
    expect(unthrottled(old)).toBeGreaterThan(unthrottled(base) ?? Infinity);
    // A link the model has no rate for is predicted with the pooled one, and the answer says so.
    const unknown = JSON.parse((await tune(...withDevice, '--link', '25G', '--multifd-channels', '4')).out) as Out;
    expect(unknown.input).toMatchObject({ link: '25G', multifdChannels: 4 });
    expect(unknown.notes).toContain("the model has no blackout rate for link '25G': predicted with the pooled 'default' rate (fit a model with transfers on that link)");
    expect(unthrottled(unknown)).toBe(unthrottled(base));
    expect(unthrottled(base)).toBeGreaterThan(0);
  });

  it('requires the figures it cannot guess', async () => {
    expect((await tune('--ram', '8GiB')).err).toContain('--dirty-rate is required');
    expect((await tune('--db', 'x.db')).err).toContain('--db needs --migration <id>');
  });

  it('has a full --help with units, every option, exit codes and examples', async () => {
    const io = captureIo(dir);
    expect(await runCli(['tune', '--help'], io)).toBe(0);
    for (const s of ['--vcpu-dirty-rate', '--first-pass', '--wws', '--device', '--margin', '--mechanism', '--link', '--multifd-channels', '--device-state-multifd', '--qemu-version', '--db', '--migration', '--json', 'Exit status', 'MiB/s', '800Mbps']) {
      expect(io.out()).toContain(s);
    }
  });

  it.skipIf(!HAVE_DATASET)('tunes from a recorded migration: the dataset’s non-converging run, imported', async () => {
    const io = captureIo(dir);
    const file = join(DATASET_DIR, 'raw/Precopy_Nonconvergent_16T/mig-stats-run-1.json');
    expect(await runCli(['import', file, '--db', 'rec.db'], io)).toBe(0);
    const r = await tune('--db', 'rec.db', '--migration', 'Precopy_Nonconvergent_16T/mig-stats-run-1', '--ram', '8607571968B', '--budget', '120s', '--model', 'lab.json', '--json');
    const j = JSON.parse(r.out) as { input: { dirtyBytesPerS: number; bandwidthBytesPerS: number; firstPassBytes: number; wwsBytes: number; deadlineMs: number }; feasible: boolean; rho: number };
    // Fitted from the run: ρ ≈ 0.99, a 3.3 GB first pass, a 1.16 GB working set; the deadline from its outcome.
    expect(j.rho).toBeCloseTo(0.994, 2);
    expect(j.input.firstPassBytes / 1e9).toBeCloseTo(3.3, 1);
    expect(j.input.wwsBytes / 1e9).toBeCloseTo(1.16, 1);
    expect(j.input.deadlineMs).toBe(300);
    expect(r.code).toBe(j.feasible ? 0 : 3);
    const missing = await tune('--db', 'rec.db', '--migration', 'nope', '--budget', '120s');
    expect(missing.code).toBe(2);
    expect(missing.err).toContain("--migration: no migration 'nope'");
  });
});
