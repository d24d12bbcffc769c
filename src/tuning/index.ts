/**
 * Dirty-rate-limit tuning: from a guest's RAM, dirty rates, pre-copy bandwidth, devices and the
 * fitted blackout model, the QEMU knobs (dirty-limit or auto-converge, `downtime-limit`,
 * `avail-switchover-bandwidth`) that meet a blackout deadline within a time budget. Pure.
 */
export { tune } from './tune.js';
export { TuningError } from './errors.js';
export type { TuningErrorCode } from './errors.js';
export { runPrecopy } from './precopy-run.js';
export type { PrecopyRunOptions } from './precopy-run.js';
export { switchoverKnobs } from './switchover-knobs.js';
export { vcpuRates, vmRateUnderDirtyLimit, vcpuTimeThrottled, dirtyLimitForVmRate, cpuThrottleForVmRate, cpuThrottleUnder, throttleKnobs, ThrottleState } from './throttle.js';
export type { VcpuDirtying } from './throttle.js';
export type { ThrottleKnobs } from './throttle.js';
export { DEFAULT_DIRTY_RATE_MARGIN } from './tune.js';
export { paretoFront } from './pareto.js';
export { fitWorkload } from './fit-workload.js';
export type { FittedWorkload } from './fit-workload.js';
export {
  QEMU_DIRTY_RATE_UNIT_BYTES,
  QEMU_BUFFER_DELAY_MS,
  QEMU_THROTTLE_TRIGGER,
  QEMU_AUTO_CONVERGE,
  QEMU_DIRTY_LIMIT,
  QEMU_MAX_DOWNTIME_LIMIT_MS,
  QEMU_DEFAULT_DOWNTIME_LIMIT_MS,
} from '../facts/qemu.js';
export type {
  PrecopyWorkload,
  ThrottleSetting,
  ThrottleMechanism,
  ThrottleStep,
  PrecopyRun,
  SwitchoverKnobs,
  TunePrediction,
  Recommendation,
  TradeOff,
  TuneReason,
  TuneInput,
  TuneResult,
} from './types.js';
