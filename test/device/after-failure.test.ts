import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AFTER_FAILURE_MODES,
  isPossibleStateAfterFailure,
  recoveryAfterFailure,
  stateAfterFailedArc,
  statesAfterFailedSetState,
} from '../../src/device/index.js';
import { ALL_STATES, MigFlags, MigState, VALID_FLAG_SETS, planPath } from '../../src/fsm/index.js';

const { ERROR, STOP, RUNNING, STOP_COPY, RESUMING, RUNNING_P2P, PRE_COPY, PRE_COPY_P2P } = MigState;
const ALL = MigFlags.STOP_COPY | MigFlags.P2P | MigFlags.PRE_COPY;

describe('statesAfterFailedSetState', () => {
  it('lists the original state, every step of the path and ERROR', () => {
    expect(statesAfterFailedSetState(RUNNING, STOP_COPY, ALL)).toEqual([RUNNING, RUNNING_P2P, STOP, STOP_COPY, ERROR]);
  });

  it('follows the path the flags give (STOP_COPY only skips RUNNING_P2P)', () => {
    expect(statesAfterFailedSetState(RUNNING, STOP_COPY, MigFlags.STOP_COPY)).toEqual([RUNNING, STOP, STOP_COPY, ERROR]);
  });

  it('leaves only the original state for a request the FSM rejects', () => {
    expect(statesAfterFailedSetState(STOP_COPY, PRE_COPY, ALL)).toEqual([STOP_COPY]);
    expect(statesAfterFailedSetState(ERROR, RUNNING, ALL)).toEqual([ERROR]);
  });

  it('leaves only the original state for a request to the current state', () => {
    expect(statesAfterFailedSetState(STOP, STOP, ALL)).toEqual([STOP]);
  });

  it('accepts a reported state only if it is one of them', () => {
    expect(isPossibleStateAfterFailure(PRE_COPY, STOP_COPY, ALL, PRE_COPY_P2P)).toBe(true);
    expect(isPossibleStateAfterFailure(PRE_COPY, STOP_COPY, ALL, ERROR)).toBe(true);
    expect(isPossibleStateAfterFailure(PRE_COPY, STOP_COPY, ALL, RUNNING)).toBe(false);
  });
});

describe('stateAfterFailedArc', () => {
  const path = planPath(RUNNING, STOP_COPY, ALL); // RUNNING_P2P, STOP, STOP_COPY

  it.each([
    [0, 'original', RUNNING],
    [0, 'along-path', RUNNING],
    [0, 'error', ERROR],
    [2, 'original', RUNNING],
    [2, 'along-path', STOP],
    [2, 'error', ERROR],
    [1, 'along-path', RUNNING_P2P],
  ] as const)('arc %i failing in mode %s leaves the device in state %i', (arc, mode, expected) => {
    expect(stateAfterFailedArc(RUNNING, path, arc, mode)).toBe(expected);
  });

  it('rejects an arc index outside the path', () => {
    expect(() => stateAfterFailedArc(RUNNING, path, 3, 'error')).toThrow(RangeError);
    expect(() => stateAfterFailedArc(RUNNING, path, -1, 'error')).toThrow(RangeError);
  });

  it('always gives a state the uAPI allows after the failure (every flag set, pair, arc and mode)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...VALID_FLAG_SETS),
        fc.constantFrom(...ALL_STATES),
        fc.constantFrom(...ALL_STATES),
        fc.nat(7),
        fc.constantFrom(...AFTER_FAILURE_MODES),
        (flags, cur, target, arcSeed, mode) => {
          let p: MigState[];
          try {
            p = planPath(cur, target, flags);
          } catch {
            return;
          }
          if (p.length === 0) return;
          const after = stateAfterFailedArc(cur, p, arcSeed % p.length, mode);
          expect(statesAfterFailedSetState(cur, target, flags)).toContain(after);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('recoveryAfterFailure', () => {
  it('needs a reset to leave ERROR', () => {
    expect(recoveryAfterFailure(ERROR, ALL)).toEqual({ kind: 'reset', reason: 'error-state' });
  });

  it('needs a reset to abort RESUMING, as the uAPI says', () => {
    expect(recoveryAfterFailure(RESUMING, ALL)).toEqual({ kind: 'reset', reason: 'abort-resuming' });
  });

  it('unwinds STOP_COPY back to RUNNING along the kernel path', () => {
    expect(recoveryAfterFailure(STOP_COPY, ALL)).toEqual({ kind: 'set-state', path: [STOP, RUNNING_P2P, RUNNING] });
  });

  it('has nothing to do in the goal state', () => {
    expect(recoveryAfterFailure(RUNNING, ALL)).toEqual({ kind: 'none' });
  });

  it('resets when the FSM has no path to the goal', () => {
    expect(recoveryAfterFailure(STOP_COPY, ALL, PRE_COPY)).toEqual({ kind: 'reset', reason: 'no-path' });
  });
});
