import { describe, expect, it } from 'vitest';
import { formatProbeReport } from '../../../src/cli/commands/probe.js';
import { buildPriors } from '../../../src/estimators/priors.js';
import { priorsFor, summariseArcs, withKernelTimes, type ProbeReport } from '../../../src/app/probe/probe.js';
import type { ArcRecord } from '../../../src/records/records.js';

function arc(from: string, to: string, latencyMs: number, stopCopyBytes: number, ok = true): ArcRecord {
  return { kind: 'arc', migrationId: 'p-1', deviceId: 'd', deviceModel: 'mtty', from, to, startedAtMs: 0, latencyMs, stopCopyBytes, ok };
}

describe('probe summary', () => {
  it('borrows a stand-in prior for an unknown device model, and leaves a known one alone', () => {
    const priors = buildPriors();
    const withMtty = priorsFor(priors, 'mtty', 'qat-vf');
    expect(Object.keys(withMtty.arcs['mtty'] ?? {})).toEqual(Object.keys(priors.arcs['qat-vf'] ?? {}));
    expect(withMtty.arcs['mtty']?.['PRE_COPY_P2P>STOP_COPY']?.provenance).toMatch(/^borrowed from the qat-vf prior/);
    expect(priorsFor(priors, 'qat-vf', 'mlx5-cx7')).toBe(priors);
  });

  it('gives p50/p99 of ok arcs, counts failures, and says "no size spread" only when one size was seen', () => {
    const records = [
      ...[1, 2, 3, 4].map((ms) => arc('STOP', 'STOP_COPY', ms, 96)),
      arc('STOP', 'STOP_COPY', 100, 96, false),
      arc('RUNNING', 'STOP', 1, 10),
      arc('RUNNING', 'STOP', 3, 20),
    ];
    const [runningStop, stopCopy] = summariseArcs(records, 'mtty', priorsFor(buildPriors(), 'mtty', 'qat-vf'));
    expect(stopCopy).toMatchObject({ arc: 'STOP>STOP_COPY', n: 4, failed: 1, p50Ms: 2.5, noSizeSpread: true, distinctSizes: 1 });
    expect(runningStop).toMatchObject({ arc: 'RUNNING>STOP', n: 2, noSizeSpread: false, distinctSizes: 2 });
  });

  it('prints the ioctl times beside the host-side ones, and the missing slope as such', () => {
    const arcs = withKernelTimes(summariseArcs([arc('STOP', 'STOP_COPY', 2, 96)], 'mtty', priorsFor(buildPriors(), 'mtty', 'qat-vf')), new Map([['STOP>STOP_COPY', [0.01, 0.02]]]));
    const report: ProbeReport = { deviceModel: 'mtty', migrationPrefix: 'p', cycles: [], committed: 0, failed: 0, arcs, model: buildPriors() };
    const text = formatProbeReport(report);
    expect(text).toMatch(/STOP>STOP_COPY\s+1\s+2\.00\s+2\.00\s+0\.015\/0\.020\s+fixed [\d.]+ ms; no size spread/);
  });
});
