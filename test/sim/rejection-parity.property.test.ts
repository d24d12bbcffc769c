import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ALL_STATES, MigState, VALID_FLAG_SETS, isStateSupported, pathArcs, planPath } from '../../src/fsm/index.js';
import { DeviceError } from '../../src/device/index.js';
import { MLX5_CX7, SimDevice, VirtualClock } from '../../src/sim/index.js';

describe('SimDevice and the kernel FSM', () => {
  it('rejects exactly the requests planPath rejects (EINVAL, state unchanged) and otherwise steps its path', async () => {
    const startArb = fc
      .constantFrom(...VALID_FLAG_SETS)
      .chain((flags) =>
        fc.tuple(
          fc.constant(flags),
          fc.constantFrom(...ALL_STATES.filter((s) => s === MigState.ERROR || isStateSupported(s, flags))),
          fc.integer({ min: -1, max: 9 }),
        ),
      );
    await fc.assert(
      fc.asyncProperty(startArb, async ([flags, cur, target]) => {
        const clock = new VirtualClock();
        // mlx5-cx7 has every arc, so any flag set can be modelled with it.
        const dev = new SimDevice({ id: 'p', profile: MLX5_CX7, flags, clock, rng: 9, initialState: cur });
        const seen: Array<[MigState, MigState]> = [];
        dev.arcs$.subscribe((e) => seen.push([e.from, e.to]));
        let expected: MigState[] | undefined;
        try {
          expected = planPath(cur, target as MigState, flags);
        } catch {
          expected = undefined;
        }
        const outcome = await dev.setState(target as MigState).then(
          () => undefined,
          (e: unknown) => e,
        );
        if (expected === undefined) {
          expect(outcome).toBeInstanceOf(DeviceError);
          expect(outcome).toMatchObject({ code: 'EINVAL', stateAfter: cur });
          expect(dev.getState()).toBe(cur);
          expect(seen).toEqual([]);
          expect(clock.nowMs).toBe(0);
        } else {
          expect(outcome).toBeUndefined();
          expect(dev.getState()).toBe(target);
          expect(seen).toEqual(pathArcs(cur, expected));
        }
      }),
      { numRuns: 400 },
    );
  });
});
