import { describe, expect, it } from 'vitest';
import { TelemetryRecorder } from '../../../src/sim/fleet/recorder.js';
import { runMigration } from '../../../src/sim/fleet/run-migration.js';
import { drawFleet, linkNameOf } from '../../../src/sim/fleet/vm-spec.js';
import { GovernorPolicy } from '../../../src/sim/policies/governor.js';
import { QemuPolicy } from '../../../src/sim/policies/qemu.js';
import type { TelemetryRecord } from '../../../src/records/records.js';
import { calibratedSimModel } from '../../governor/fixtures.js';
import { vmSpec } from './helpers.js';

describe('the link of a simulated VM', () => {
  it('is its NIC class, and -multifd when multifd carries the stream', () => {
    expect(linkNameOf(10, false)).toBe('10G');
    expect(linkNameOf(100, true)).toBe('100G-multifd');
    for (const vm of drawFleet(11, 50)) expect(vm.link).toBe(linkNameOf(vm.linkGbps, vm.multifd));
  });

  it('is named on every transfer the recorder writes, and on none when not given', async () => {
    const spec = vmSpec(3, { deadlineMs: 1000 });
    const named: TelemetryRecord[] = [];
    const unnamed: TelemetryRecord[] = [];
    const a = await runMigration(spec, new QemuPolicy(), { recorder: new TelemetryRecorder({ push: (r) => void named.push(r) }, 'm', spec.deadlineMs, spec.link) });
    await runMigration(spec, new QemuPolicy(), { recorder: new TelemetryRecorder({ push: (r) => void unnamed.push(r) }, 'm', spec.deadlineMs) });
    expect(a.completed).toBe(true);
    const links = (rs: TelemetryRecord[]) => rs.flatMap((r) => (r.kind === 'transfer' ? [r.link ?? null] : []));
    expect(links(named).length).toBeGreaterThan(1);
    expect(new Set(links(named))).toEqual(new Set([spec.link]));
    expect(new Set(links(unnamed))).toEqual(new Set([null]));
  });

  it('is what the governor asks the model about, at every poll and at the commit', async () => {
    // The model knows only this VM's link: asking about `default` would be MODEL_MISSING.
    const base = calibratedSimModel();
    const spec = vmSpec(7, { deadlineMs: 1000, workload: 'light', dirtyBytesPerS: 20e6, wwsBytes: 200e6, precopyBytesPerS: 2e9, blackoutBytesPerS: 2.5e9, devices: [] });
    const link = base.links['default'];
    if (link === undefined) throw new Error('fixture without a default link');
    const policy = new GovernorPolicy({ model: { ...base, links: { [spec.link]: link } }, alpha: 0.01 });
    const r = await runMigration(spec, policy);
    expect(r.completed).toBe(true);
    expect([...policy.stats.reasons.keys()]).toEqual(['commit:FITS']);
    const elsewhere = await runMigration(spec, new GovernorPolicy({ model: { ...base, links: { '400G': link } }, alpha: 0.01 }));
    expect(elsewhere.abortReason).toBe('MODEL_MISSING');
  });
});
