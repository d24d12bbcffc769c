import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ALL_STATES,
  FROM_FSM_TABLE,
  FsmError,
  MigState,
  VALID_FLAG_SETS,
  isStateSupported,
  nextState,
  planPath,
} from '../../src/fsm/index.js';

const flagsArb = fc.constantFrom(...VALID_FLAG_SETS);
const stateArb = fc.constantFrom(...ALL_STATES);

/** Direct arcs a driver implements: the table's entries between supported, distinct states. */
function isDirectArc(from: MigState, to: MigState, flags: number): boolean {
  if (from === to || !isStateSupported(from, flags) || !isStateSupported(to, flags)) return false;
  // A driver implements (from, to) when some target sends `from` straight to `to`
  // (table entry, or the entry reached after skipping unsupported states).
  return ALL_STATES.some((target) => {
    try {
      return nextState(from, target, flags) === to;
    } catch {
      return false;
    }
  });
}

describe('planPath properties (every flag set, every pair)', () => {
  it('ends at the target, never passes ERROR and steps only along direct arcs', () => {
    fc.assert(
      fc.property(flagsArb, stateArb, stateArb, (flags, cur, target) => {
        let path: MigState[];
        try {
          path = planPath(cur, target, flags);
        } catch (e) {
          expect(e).toBeInstanceOf(FsmError);
          return;
        }
        if (cur === target) {
          expect(path).toEqual([]);
          return;
        }
        expect(path[path.length - 1]).toBe(target);
        expect(path).not.toContain(MigState.ERROR);
        let from = cur;
        for (const to of path) {
          expect(isDirectArc(from, to, flags)).toBe(true);
          expect(isStateSupported(to, flags)).toBe(true);
          from = to;
        }
        expect(new Set(path).size).toBe(path.length);
      }),
      { numRuns: 2000 },
    );
  });

  it('never skips a supported intermediate state the kernel table routes through', () => {
    fc.assert(
      fc.property(flagsArb, stateArb, stateArb, (flags, cur, target) => {
        let path: MigState[];
        try {
          path = planPath(cur, target, flags);
        } catch {
          return;
        }
        let from = cur;
        for (const to of path) {
          // The first table hop is the next step whenever that state exists on this device.
          const hop = FROM_FSM_TABLE[from]![target]!;
          if (isStateSupported(hop, flags)) expect(to).toBe(hop);
          from = to;
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('rejects exactly the requests whose source or target the flags lack, ERROR, or STOP_COPY -> PRE_COPY*', () => {
    fc.assert(
      fc.property(flagsArb, stateArb, stateArb, (flags, cur, target) => {
        const blocked =
          !isStateSupported(cur, flags) ||
          !isStateSupported(target, flags) ||
          (cur === MigState.STOP_COPY && (target === MigState.PRE_COPY || target === MigState.PRE_COPY_P2P));
        expect(() => planPath(cur, target, flags)).toSatisfy((fn: () => unknown) => {
          try {
            fn();
            return !blocked;
          } catch (e) {
            return blocked && e instanceof FsmError;
          }
        });
      }),
    );
  });
});
