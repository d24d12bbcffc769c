import { describe, expect, it } from 'vitest';
import { compileModel } from '../../src/estimators/predict.js';
import { attemptRecord, decide } from '../../src/governor/index.js';
import { validateRecord } from '../../src/telemetry/validate.js';
import { mlx5, simTruthModel, vm } from './fixtures.js';

describe('attemptRecord', () => {
  const model = compileModel(simTruthModel());
  const unreachable = decide(vm([mlx5('a')], { ramRemainingBytes: 0 }), model, { deadlineMs: 0.001, alpha: 0.05, budgetMs: 1e6 });

  it("records an abort with the last decision's reason and bound, a valid telemetry record", () => {
    expect(unreachable.action).toBe('abort');
    const r = attemptRecord('m', unreachable, { status: 'aborted', totalTimeMs: 4200 });
    expect(r).toEqual({
      kind: 'attempt',
      migrationId: 'm',
      policy: 'governor',
      status: 'aborted',
      reason: unreachable.reason,
      deadlineMs: 0.001,
      totalTimeMs: 4200,
      predictedBlackoutMs: unreachable.predictedBlackoutMs,
    });
    expect(validateRecord(r)).toBe(r);
  });

  it('records a cancel without any decision when told the deadline and why', () => {
    expect(attemptRecord('m', null, { status: 'cancelled', totalTimeMs: 10, deadlineMs: 300, reason: 'migrate_cancel' }, 'qemu')).toEqual({
      kind: 'attempt',
      migrationId: 'm',
      policy: 'qemu',
      status: 'cancelled',
      reason: 'migrate_cancel',
      deadlineMs: 300,
      totalTimeMs: 10,
    });
  });

  it('refuses an impossible time, or a decision-less attempt without deadline or reason', () => {
    expect(() => attemptRecord('m', unreachable, { status: 'aborted', totalTimeMs: -1 })).toThrow(expect.objectContaining({ code: 'E_BAD_REQUEST' }));
    expect(() => attemptRecord('m', null, { status: 'failed', totalTimeMs: 1, reason: 'x' })).toThrow(expect.objectContaining({ code: 'E_BAD_REQUEST' }));
    expect(() => attemptRecord('m', null, { status: 'failed', totalTimeMs: 1, deadlineMs: 300 })).toThrow(expect.objectContaining({ code: 'E_BAD_REQUEST' }));
  });
});
