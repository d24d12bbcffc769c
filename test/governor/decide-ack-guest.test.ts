import { describe, expect, it } from 'vitest';
import { compileModel, predictBlackout } from '../../src/estimators/predict.js';
import { MigFlags, MigState } from '../../src/fsm/index.js';
import { decide, type VmSnapshot } from '../../src/governor/index.js';
import type { SizedDevice } from '../../src/governor/snapshot-devices.js';
import { GiB, MiB, mlx5, simTruthModel, vm } from './fixtures.js';

const model = compileModel(simTruthModel());
const ALPHA = 0.05;
const BUDGET = 60_000;

function boundOf(s: VmSnapshot): number {
  return predictBlackout(model, { devices: s.devices as readonly SizedDevice[], ramRemainingBytes: s.ramRemainingBytes, ramDirtyBytesPerS: s.ramDirtyBytesPerS }, ALPHA).boundMs;
}

/** Median of the destination load chain of one mlx5 device carrying `bytes`. */
function loadMedianMs(bytes: number): number {
  const parts = predictBlackout(model, { devices: [mlx5('a', { stopCopyBytes: bytes }) as SizedDevice], ramRemainingBytes: 0 }, ALPHA).parts;
  return parts.filter((p) => p.kind === 'dest-load').reduce((sum, p) => sum + p.medianMs, 0);
}

describe('decide: switchover-ack', () => {
  it('never commits while the destination has not acked, even when the bound fits', () => {
    const s = vm([mlx5('a')], { switchoverAck: 'pending' });
    const d = decide(s, model, { deadlineMs: boundOf(s) + 1, alpha: ALPHA, budgetMs: BUDGET });
    expect(d).toMatchObject({ action: 'wait', reason: 'SWITCHOVER_ACK_PENDING' });
  });

  it('commits once the ack is received, and when the VMM reports none is required or says nothing', () => {
    for (const switchoverAck of ['received', 'not-required', undefined] as const) {
      const s = vm([mlx5('a')], switchoverAck === undefined ? {} : { switchoverAck });
      expect(decide(s, model, { deadlineMs: boundOf(s) + 1, alpha: ALPHA, budgetMs: BUDGET }).reason).toBe('FITS');
    }
  });

  it('waits again when an ack is withdrawn: the decision follows the reported state, not history', () => {
    const received = vm([mlx5('a')], { switchoverAck: 'received' });
    const slo = { deadlineMs: boundOf(received) + 1, alpha: ALPHA, budgetMs: BUDGET };
    expect(decide(received, model, slo).action).toBe('commit');
    expect(decide({ ...received, switchoverAck: 'pending' }, model, slo).reason).toBe('SWITCHOVER_ACK_PENDING');
  });

  it('counts sending the pending initial bytes and the destination loading them in the wait', () => {
    const s = vm([mlx5('a', { initialBytes: 50 * MiB })], { switchoverAck: 'pending' });
    const d = decide(s, model, { deadlineMs: boundOf(s) + 1, alpha: ALPHA, budgetMs: BUDGET });
    const sendMs = ((50 * MiB) / GiB) * 1000;
    expect(loadMedianMs(50 * MiB)).toBeGreaterThan(0);
    expect(d.waitMs).toBeCloseTo(sendMs + loadMedianMs(50 * MiB), 6);
  });

  it('does not commit with initial bytes the budget cannot drain while the ack is pending', () => {
    const s = vm([mlx5('a', { initialBytes: 50 * MiB })], { elapsedMs: 59_990, switchoverAck: 'pending' });
    const d = decide(s, model, { deadlineMs: boundOf(s) + 1, alpha: ALPHA, budgetMs: BUDGET });
    expect(d.action).toBe('wait');
  });

  it('waits at least until the ack can come when pre-copy converges sooner', () => {
    const s = vm([mlx5('a', { initialBytes: 200 * MiB })], { ramRemainingBytes: 2 * GiB, switchoverAck: 'pending' });
    const slo = { deadlineMs: boundOf({ ...s, ramRemainingBytes: 1 * GiB }), alpha: ALPHA, budgetMs: BUDGET };
    const without = decide({ ...s, switchoverAck: 'not-required' }, model, slo);
    const withAck = decide(s, model, slo);
    expect(without.reason).toBe('CONVERGING');
    expect(withAck.reason).toBe('CONVERGING');
    expect(withAck.waitMs).toBeGreaterThanOrEqual(((200 * MiB) / GiB) * 1000 + loadMedianMs(200 * MiB) - 1e-9);
    expect(withAck.waitMs).toBeGreaterThanOrEqual(without.waitMs!);
  });

  it('rejects an ack state that is not one of the three', () => {
    const s = { ...vm([mlx5('a')]), switchoverAck: 'maybe' } as unknown as VmSnapshot;
    expect(() => decide(s, model, { deadlineMs: 300, alpha: ALPHA, budgetMs: BUDGET })).toThrow(/switchoverAck/);
  });
});

describe('decide: guest timeout', () => {
  it('holds the bound to a guest timeout below the deadline and says the guest timeout binds', () => {
    const s = vm([mlx5('a')]);
    const bound = boundOf(s);
    const d = decide(s, model, { deadlineMs: bound + 100, guestTimeoutMs: bound - 1, alpha: ALPHA, budgetMs: BUDGET });
    expect(d.action).not.toBe('commit');
    expect(d).toMatchObject({ bindingLimit: 'guest-timeout', guestTimeoutMs: bound - 1, deadlineMs: bound + 100 });
  });

  it('commits when both limits hold, saying the deadline binds when it is the lower', () => {
    const s = vm([mlx5('a')]);
    const bound = boundOf(s);
    const d = decide(s, model, { deadlineMs: bound + 1, guestTimeoutMs: bound + 100, alpha: ALPHA, budgetMs: BUDGET });
    expect(d).toMatchObject({ action: 'commit', bindingLimit: 'deadline', guestTimeoutMs: bound + 100 });
    expect(decide(s, model, { deadlineMs: bound + 1, alpha: ALPHA, budgetMs: BUDGET })).toMatchObject({ bindingLimit: 'deadline', guestTimeoutMs: null });
  });

  it('sizes the RAM target to the guest timeout when it binds', () => {
    const s = vm([mlx5('a')], { ramRemainingBytes: 2 * GiB });
    const deadlineMs = boundOf({ ...s, ramRemainingBytes: 1 * GiB });
    const byDeadline = decide(s, model, { deadlineMs, alpha: ALPHA, budgetMs: BUDGET });
    const byGuest = decide(s, model, { deadlineMs, guestTimeoutMs: boundOf({ ...s, ramRemainingBytes: 512 * MiB }), alpha: ALPHA, budgetMs: BUDGET });
    expect(byGuest.targetRamBytes!).toBeLessThan(byDeadline.targetRamBytes!);
    expect(byGuest.bindingLimit).toBe('guest-timeout');
  });

  it('rejects a guest timeout that is not a positive number', () => {
    for (const guestTimeoutMs of [0, -5, Number.NaN]) {
      expect(() => decide(vm([mlx5('a')]), model, { deadlineMs: 300, guestTimeoutMs, alpha: ALPHA, budgetMs: BUDGET })).toThrow(/guestTimeoutMs/);
    }
  });
});

describe('decide: STOP_COPY-only devices', () => {
  const nic = (id: string, stopCopyBytes: number) => ({ id, model: 'generic-nic', state: MigState.RUNNING, flags: MigFlags.STOP_COPY, stopCopyBytes });

  it('names a device without PRE_COPY whose state alone breaks the deadline', () => {
    const s = vm([mlx5('a'), nic('nic0', 2 * GiB), nic('nic1', 1 * MiB)], { ramRemainingBytes: 0 });
    const d = decide(s, model, { deadlineMs: 300, alpha: ALPHA, budgetMs: BUDGET });
    expect(d).toMatchObject({ action: 'abort', reason: 'STOP_COPY_ONLY_DEVICE_TOO_SLOW', reasonDeviceIds: ['nic0'] });
  });

  it('says plainly unreachable when the devices only break it together, or a PRE_COPY device does', () => {
    const big = vm([mlx5('a', { stopCopyBytes: 2 * GiB, dirtyBytes: 0 }), nic('nic0', 1 * MiB)], { ramRemainingBytes: 0 });
    expect(decide(big, model, { deadlineMs: 300, alpha: ALPHA, budgetMs: BUDGET }).reason).toBe('DEADLINE_UNREACHABLE');
  });

  it("predicts the device alone on the VM's own QEMU: before 8.2 its STOP_COPY → STOP counts", () => {
    const s = vm([nic('nic0', 100 * MiB)], { ramRemainingBytes: 0, qemuVersion: '8.1.0' });
    const devices = s.devices as readonly SizedDevice[];
    const current = predictBlackout(model, { devices, ramRemainingBytes: 0 }, ALPHA).boundMs;
    const old = predictBlackout(model, { devices, ramRemainingBytes: 0, stopCopyToStopInBlackout: true }, ALPHA).boundMs;
    expect(old).toBeGreaterThan(current);
    const limit = (current + old) / 2;
    expect(decide(s, model, { deadlineMs: limit, alpha: ALPHA, budgetMs: BUDGET })).toMatchObject({ reason: 'STOP_COPY_ONLY_DEVICE_TOO_SLOW', reasonDeviceIds: ['nic0'] });
    expect(decide({ ...s, qemuVersion: '10.0.2' }, model, { deadlineMs: limit, alpha: ALPHA, budgetMs: BUDGET }).action).toBe('commit');
  });

  it('holds the device to the guest timeout when that binds', () => {
    const s = vm([nic('nic0', 100 * MiB)], { ramRemainingBytes: 0 });
    const alone = predictBlackout(model, { devices: s.devices as readonly SizedDevice[], ramRemainingBytes: 0 }, ALPHA).boundMs;
    expect(decide(s, model, { deadlineMs: alone + 1, alpha: ALPHA, budgetMs: BUDGET }).action).toBe('commit');
    expect(decide(s, model, { deadlineMs: alone + 1, guestTimeoutMs: alone - 1, alpha: ALPHA, budgetMs: BUDGET }).reason).toBe('STOP_COPY_ONLY_DEVICE_TOO_SLOW');
  });
});
