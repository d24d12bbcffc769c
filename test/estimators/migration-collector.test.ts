import { describe, expect, it } from 'vitest';
import { MigState } from '../../src/fsm/index.js';
import { MigrationCollector, type ArcColumns } from '../../src/estimators/migrations.js';

const columns = (): ArcColumns => ({
  deviceId: ['d0', 'd1'],
  deviceModel: ['mlx5-cx7', 'mlx5-cx7'],
  from: Float64Array.of(MigState.PRE_COPY_P2P, MigState.PRE_COPY_P2P),
  to: Float64Array.of(MigState.STOP_COPY, MigState.STOP_COPY),
  startedAtMs: Float64Array.of(10, 11),
  latencyMs: Float64Array.of(1.5, 2.5),
  stopCopyBytes: Float64Array.of(100, 200),
  ok: [true, false],
});

describe('MigrationCollector arc columns', () => {
  it("keeps a migration's first columns as they are handed over (no copy)", () => {
    const c = new MigrationCollector();
    const arcs = columns();
    c.addArcColumns('m1', arcs);
    const d = c.migrations.get('m1');
    expect(d?.arcLatencyMs).toBe(arcs.latencyMs);
    expect(d?.arcDeviceId).toBe(arcs.deviceId);
  });

  it("copies handed-over columns before adding more arcs, leaving the caller's as they were", () => {
    const c = new MigrationCollector();
    const arcs = columns();
    c.addArcColumns('m1', arcs);
    c.addArc('m1', 'd2', 'qat-4xxx', MigState.STOP_COPY, MigState.STOP, 12, 3.5, 0, true);
    c.addArcColumns('m1', columns());
    const d = c.migrations.get('m1');
    expect(Array.from(d?.arcLatencyMs ?? [])).toEqual([1.5, 2.5, 3.5, 1.5, 2.5]);
    expect(d?.arcDeviceId).toEqual(['d0', 'd1', 'd2', 'd0', 'd1']);
    expect(d?.arcOk).toEqual([true, false, true, true, false]);
    expect(Array.from(arcs.latencyMs)).toEqual([1.5, 2.5]);
    expect(arcs.deviceId).toEqual(['d0', 'd1']);
  });
});
