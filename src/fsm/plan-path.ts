import { nextState } from './next-state.js';
import { stateName, type MigFlags, type MigState } from './states.js';

/**
 * Every state the kernel steps through from `cur` to `target` (excluding `cur`, ending with
 * `target`); `[]` when they are equal. This is the sequence of single arcs a driver sees for one
 * SET_STATE request. Throws `FsmError` where the kernel rejects the request.
 */
export function planPath(cur: MigState, target: MigState, flags: MigFlags): MigState[] {
  const path: MigState[] = [];
  let at = nextState(cur, target, flags); // validates cur/target even when equal
  if (at === cur) return path;
  // The table has no cycles towards a fixed target; 8 steps is a safe upper bound.
  for (let guard = 0; guard < 8; guard++) {
    path.push(at);
    if (at === target) return path;
    at = nextState(at, target, flags);
  }
  throw new Error(`internal: no path from ${stateName(cur)} to ${stateName(target)}`);
}

/** `arcKey(RUNNING, STOP)` → `"RUNNING>STOP"`: the key arcs have in telemetry and models. */
export function arcKey(from: MigState, to: MigState): string {
  return `${stateName(from)}>${stateName(to)}`;
}

/** The arcs of a path from `cur`: `[[cur, p0], [p0, p1], ...]`. */
export function pathArcs(cur: MigState, path: readonly MigState[]): Array<[MigState, MigState]> {
  const arcs: Array<[MigState, MigState]> = [];
  let from = cur;
  for (const to of path) {
    arcs.push([from, to]);
    from = to;
  }
  return arcs;
}
