import { describe, expect, it } from 'vitest';
import { compileModel } from '../../src/estimators/compile.js';
import { predictBlackout, resolveLink } from '../../src/estimators/predict.js';
import { RESIDUAL_QUANTILE_LEVELS, type ArcLatencyModel, type BlackoutDevice, type FittedModel } from '../../src/estimators/types.js';
import { MigFlags, MigState } from '../../src/fsm/index.js';

const ZERO = RESIDUAL_QUANTILE_LEVELS.map(() => 0);
const exact = (fixedMs: number, slopeMsPerByte = 0): ArcLatencyModel => ({ n: 100, fixedMs, slopeMsPerByte, residualQuantilesMs: ZERO, source: 'fitted' });
const ALL = MigFlags.STOP_COPY | MigFlags.P2P | MigFlags.PRE_COPY;
const rate = (bytesPerS: number): FittedModel['links'][string] => ({ n: 50, medianBytesPerS: bytesPerS, lowBytesPerS: bytesPerS, source: 'fitted' });

/** Zero spread: medians are exact. Load 60 ms + 2 ms/MB; links: pooled 1 GB/s, 100G 2 GB/s, 100G at 8 channels 10 GB/s. */
const model: FittedModel = {
  version: 1,
  name: 'exact',
  fittedAt: '2026-01-01T00:00:00.000Z',
  provenance: 'test',
  arcs: {
    nic: {
      'PRE_COPY>PRE_COPY_P2P': exact(10),
      'PRE_COPY_P2P>STOP_COPY': exact(40),
      'RESUMING>STOP': exact(60, 2e-6),
      'STOP>RUNNING_P2P': exact(8),
      'RUNNING_P2P>RUNNING': exact(5),
    },
  },
  links: { default: rate(1e9), '100G': rate(2e9), '100G@8ch': rate(10e9) },
  fixed: { n: 10, medianMs: 15, residualQuantilesMs: ZERO, source: 'fitted' },
  ram: { n: 10, carryMs: 0, source: 'fitted' },
};
const c = compileModel(model);
const nic = (id: string, bytes: number): BlackoutDevice => ({ id, model: 'nic', state: MigState.PRE_COPY, flags: ALL, stopCopyBytes: bytes });
const four = [nic('a', 100e6), nic('b', 100e6), nic('c', 100e6), nic('d', 100e6)];

describe('predictBlackout with QEMU 10 multifd device state', () => {
  it('overlaps the transfer with the devices, each loaded once its own image is in, in parallel, over multifd', () => {
    const p = predictBlackout(c, { devices: four, ramRemainingBytes: 0, link: '100G', multifdChannels: 8, deviceStateMultifd: true, serial: true }, 0.1);
    // arcs in turn 4 × 50; transfer 400 MB at 10 GB/s = 40 ms under the slowest device: its 100 MB
    // in 10 ms, then its load 60 + 200 = 260; restart in turn 4 × 13.
    expect(p.medianMs).toBeCloseTo(15 + 200 + (10 + 260) + 52, 9);
  });

  it('adds the transfer and every load one after another on the main channel', () => {
    const p = predictBlackout(c, { devices: four, ramRemainingBytes: 0, link: '100G', deviceStateMultifd: false, serial: true }, 0.1);
    // transfer 400 MB at 2 GB/s = 200 ms, then 4 loads of 260.
    expect(p.medianMs).toBeCloseTo(15 + 200 + 200 + 4 * 260 + 52, 9);
  });

  it('uses the link at its channel count, else the link, else the pooled rate, and says which', () => {
    expect(resolveLink(c, '100G', 8)).toBe('100G@8ch');
    expect(resolveLink(c, '100G', 4)).toBe('100G');
    expect(resolveLink(c, '100G', 1)).toBe('100G');
    expect(resolveLink(c, '25G', 8)).toBe('default');
    const at = (multifdChannels: number | undefined): number =>
      predictBlackout(c, { devices: [], ramRemainingBytes: 1e9, link: '100G', multifdChannels }, 0.1).medianMs - 15;
    expect(at(8)).toBeCloseTo(100, 9);
    expect(at(4)).toBeCloseTo(500, 9);
    expect(at(undefined)).toBeCloseTo(500, 9);
  });
});

describe('predictBlackout with a destination QEMU moves in one request', () => {
  // What a QEMU host records: RESUMING>RUNNING_P2P (the load and STOP>RUNNING_P2P in one request as
  // the VM starts), never RESUMING>STOP alone. Its median, 68 ms + 2 ms/MB, is the step model's load and first restart step.
  const { 'RESUMING>STOP': _load, 'STOP>RUNNING_P2P': _p2p, ...source } = model.arcs['nic']!;
  const oneRequest = compileModel({ ...model, arcs: { nic: { ...source, 'RESUMING>RUNNING_P2P': exact(68, 2e-6) } } });
  /** The destination's parts of a prediction, `kind arc`. */
  const destinationParts = (p: ReturnType<typeof predictBlackout>): string[] =>
    p.parts.filter((x) => x.kind === 'restart' || x.kind === 'dest-load').map((x) => `${x.kind} ${x.arc ?? ''}`);

  it('predicts the load inside the restart, at the VM start, one device after another', () => {
    const query = { devices: [nic('a', 100e6)], ramRemainingBytes: 0, link: '100G', deviceStateMultifd: false };
    const p = predictBlackout(oneRequest, query, 0.1);
    expect(p.missing).toEqual([]);
    expect(destinationParts(p)).toEqual(['restart RESUMING>RUNNING_P2P', 'restart RUNNING_P2P>RUNNING']);
    // On the main channel it is the step model's sum: transfer 50 ms, then 268 + 5.
    expect(p.medianMs).toBeCloseTo(predictBlackout(c, query, 0.1).medianMs, 9);
    expect(p.medianMs).toBeCloseTo(15 + 50 + 50 + 273, 9);
  });

  it('does not hide it under the wire over multifd: QEMU moves each device at the VM start, after the wire', () => {
    const p = predictBlackout(oneRequest, { devices: four, ramRemainingBytes: 0, link: '100G', multifdChannels: 8, deviceStateMultifd: true, serial: true }, 0.1);
    // arcs in turn 4 × 50; transfer 40 ms (each stream 10 ms, nothing to load beside it); 4 × 273 at the start.
    expect(p.medianMs).toBeCloseTo(15 + 200 + 40 + 4 * 273, 9);
  });

  it("prefers a learnt one request to a prior's load (a fitted model carries every prior arc over), not to a learnt load", () => {
    const prior = (a: ArcLatencyModel): ArcLatencyModel => ({ ...a, n: 0, source: 'prior' });
    const withPrior = compileModel({ ...model, arcs: { nic: { ...source, 'RESUMING>STOP': prior(exact(60, 2e-6)), 'STOP>RUNNING_P2P': prior(exact(8)), 'STOP>RUNNING': exact(3), 'RESUMING>RUNNING_P2P': exact(400) } } });
    const restartArcs = (m: typeof c): string[] => destinationParts(predictBlackout(m, { devices: [nic('a', 1e6)], ramRemainingBytes: 0 }, 0.1));
    expect(restartArcs(withPrior)).toEqual(['restart RESUMING>RUNNING_P2P', 'restart RUNNING_P2P>RUNNING']);
    // Without P2P no one-request arc reaches RUNNING: the prior's load goes first in the restart.
    const plain = withPrior.devices.get('nic')!.restart[MigFlags.STOP_COPY]!;
    expect(plain.arcs.map((a) => a.key)).toEqual(['RESUMING>STOP', 'STOP>RUNNING']);
    expect(plain.missing).toEqual([]);
    // Both learnt (a host that steps the destination itself): the kernel's steps, the load beside the wire.
    const learnt = compileModel({ ...model, arcs: { nic: { ...model.arcs['nic']!, 'RESUMING>RUNNING_P2P': exact(400) } } });
    expect(restartArcs(learnt)).toEqual(['dest-load RESUMING>STOP', 'restart STOP>RUNNING_P2P', 'restart RUNNING_P2P>RUNNING']);
  });

  it('names the load missing when neither it nor the one request is known', () => {
    const none = compileModel({ ...model, arcs: { nic: source } });
    const p = predictBlackout(none, { devices: [nic('a', 1e6)], ramRemainingBytes: 0 }, 0.1);
    expect(p.missing).toEqual(['nic:RESUMING>STOP', 'nic:STOP>RUNNING_P2P']);
  });
});
