import { ALL_STATES, FsmError, arcKey, isStateSupported, nextState, type MigFlags, type MigState } from '../fsm/index.js';
import { SimError } from './errors.js';
import type { SimArcModel } from './latency.js';
import type { SimProfile } from './profiles.js';

/**
 * Every single arc a driver with these flags can be asked to run: the `(cur, next)` pairs
 * `vfio_mig_get_next_state()` produces for some target, unsupported states skipped.
 */
export function directArcs(flags: MigFlags): Array<[MigState, MigState]> {
  const arcs: Array<[MigState, MigState]> = [];
  for (const from of ALL_STATES) {
    if (!isStateSupported(from, flags)) continue;
    const seen = new Set<MigState>();
    for (const target of ALL_STATES) {
      let next: MigState;
      try {
        next = nextState(from, target, flags);
      } catch (e) {
        if (e instanceof FsmError) continue;
        throw e;
      }
      if (next !== from && !seen.has(next)) {
        seen.add(next);
        arcs.push([from, next]);
      }
    }
  }
  return arcs;
}

/** An 8×8 table, `[from * 8 + to]`, of the profile's models for the flags' direct arcs. */
export type ArcModelTable = readonly (SimArcModel | undefined)[];

const cache = new WeakMap<SimProfile, Map<MigFlags, ArcModelTable>>();

/**
 * The profile's arc models laid out for O(1) lookup. Throws `E_SIM_CONFIG` when the flags allow
 * an arc the profile has no model for (e.g. P2P flags on the stop-copy-only `generic-nic`).
 */
export function arcModelTable(profile: SimProfile, flags: MigFlags): ArcModelTable {
  let byFlags = cache.get(profile);
  const hit = byFlags?.get(flags);
  if (hit) return hit;
  const table: (SimArcModel | undefined)[] = new Array<SimArcModel | undefined>(64).fill(undefined);
  const missing: string[] = [];
  for (const [from, to] of directArcs(flags)) {
    const model = profile.arcs[arcKey(from, to)];
    if (model === undefined) missing.push(arcKey(from, to));
    else table[from * 8 + to] = model;
  }
  if (missing.length > 0) {
    throw new SimError('E_SIM_CONFIG', `profile ${profile.name} has no latency model for arcs ${missing.join(', ')}`);
  }
  if (!byFlags) cache.set(profile, (byFlags = new Map()));
  byFlags.set(flags, table);
  return table;
}

/** `"FROM>TO"` keys by `[from * 8 + to]`, built once so arcs need no string work. */
export const ARC_KEYS: readonly string[] = ALL_STATES.flatMap((from) => ALL_STATES.map((to) => arcKey(from, to)));
