/**
 * Where the governor reads time. Only reading: the devices themselves take the time their arcs
 * take. Structurally the `Clock` of `src/sim/clock.ts` without `sleep`, so the simulator's
 * `VirtualClock` is one as it is; {@link realTimeClock} is the production one.
 */
export interface NowSource {
  /** Current time in ms (float), monotonic. */
  readonly nowMs: number;
}

/** Monotonic real time from `performance.now()`. */
export const realTimeClock: NowSource = {
  get nowMs(): number {
    return performance.now();
  },
};
