export { decide, FAILED_SIZE_QUERY_BYTES } from './decide.js';
export { decideAtLowestLevel, type LeveledDecision } from './risk-levels.js';
export { REASON_ACTIONS } from './types.js';
export type { BindingLimit, Decision, DecisionAction, DecisionReason, DeviceSnapshot, Slo, SwitchoverAck, ThrottleAdvice, VmSnapshot } from './types.js';
export { DeadlineSetState } from './deadline-set-state.js';
export type {
  ArcRun,
  DeadlineSetStateOptions,
  DeviceFailure,
  DeviceResult,
  RamStatus,
  SetStateOptions,
  SetStateOutcome,
  SetStateResult,
} from './set-state-types.js';
export { realTimeClock, type NowSource } from './clock.js';
export { attemptRecord, outcomeRecord, GOVERNOR_POLICY } from './outcome.js';
export { CalibrationWatcher } from './calibration.js';
export { AdaptiveAlpha, DEFAULT_ACI_GAMMA, DEFAULT_ACI_MAX_ALPHA, decisionAlpha } from './adaptive-alpha.js';
export type { AdaptiveAlphaOptions, AdaptiveAlphaStatus } from './adaptive-alpha.js';
export { RiskKnapsack, defaultKnapsackBudget, DEFAULT_KNAPSACK_GAMMA, DEFAULT_KNAPSACK_MAX_LEVEL, DEFAULT_KNAPSACK_SLACK } from './risk-knapsack.js';
export type { KnapsackCharge, RiskKnapsackOptions, RiskKnapsackStatus } from './risk-knapsack.js';
export { bestCaseMissProbability } from './best-case-risk.js';
export type { CalibrationStatus, CalibrationWatcherOptions, ObservedOutcome } from './calibration.js';
export { GovernorError, type GovernorErrorCode } from './errors.js';
