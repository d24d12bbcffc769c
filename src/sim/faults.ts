/**
 * Fault injection for simulated devices: standing probabilities, and one-shot faults ("the next
 * `PRE_COPY_P2P>STOP_COPY` arc fails and leaves the device in ERROR").
 */
import { AFTER_FAILURE_MODES, type AfterFailureMode } from '../device/after-failure.js';
import type { DeviceErrno } from '../device/errors.js';
import { parseStateName } from '../fsm/index.js';
import { SimError, checkNonNegative, checkProbability } from './errors.js';
import type { Rng } from './rng.js';

/** Errnos a failing MIG_DATA_SIZE query answers: ENOTTY (not implemented) or EIO. */
export type SizeQueryErrno = 'ENOTTY' | 'EIO';

/** Where a failing arc leaves the device: one mode, or modes weighted by probability. */
export type AfterFailureSpec = AfterFailureMode | Readonly<Partial<Record<AfterFailureMode, number>>>;

/** Standing fault probabilities of a device. All default to 0 (no faults). */
export interface FaultConfig {
  /** Probability that any one arc fails. */
  readonly arcFailProb?: number;
  /** errno of a failing arc; default EIO (the device command failed). */
  readonly arcFailErrno?: DeviceErrno;
  /**
   * Where a failed arc leaves the device; default `along-path`, the last state reached, which is
   * what the drivers' step loops do (see `AfterFailureMode`).
   */
  readonly afterFailure?: AfterFailureSpec;
  /** Probability that an arc runs `overrunMultiplier` times its drawn latency. */
  readonly overrunProb?: number;
  /** Default 10. */
  readonly overrunMultiplier?: number;
  /** Probability that a MIG_DATA_SIZE query fails. */
  readonly sizeQueryFailProb?: number;
  /** Default ENOTTY. */
  readonly sizeQueryErrno?: SizeQueryErrno;
}

/**
 * A fault that fires once. `arc` (`"FROM>TO"`) restricts an arc fault to the next run of that
 * arc; without it the next arc of any kind takes it. One-shot faults fire before the standing
 * probabilities are consulted, in the order they were injected.
 */
export type OneShotFault =
  | { readonly kind: 'arc-fail'; readonly arc?: string; readonly errno?: DeviceErrno; readonly after?: AfterFailureMode }
  | { readonly kind: 'overrun'; readonly arc?: string; readonly multiplier?: number }
  | { readonly kind: 'size-query'; readonly errno?: SizeQueryErrno };

/** What the fault plan decided for one arc. Reused between arcs: copy what you keep. */
export interface ArcFaultDecision {
  /** errno when the arc fails, `undefined` when it succeeds. */
  failErrno: DeviceErrno | undefined;
  failAfter: AfterFailureMode;
  /** 1 when the arc runs normally. */
  latencyMultiplier: number;
}

const DEFAULT_OVERRUN = 10;

/** Decides, arc by arc and query by query, which faults happen. */
export class FaultPlan {
  private readonly arcFailProb: number;
  private readonly arcFailErrno: DeviceErrno;
  private readonly afterFailure: AfterFailureSpec;
  private readonly overrunProb: number;
  private readonly overrunMultiplier: number;
  private readonly sizeQueryFailProb: number;
  private readonly sizeQueryErrno: SizeQueryErrno;
  private readonly pending: OneShotFault[] = [];
  private readonly decision: ArcFaultDecision = { failErrno: undefined, failAfter: 'along-path', latencyMultiplier: 1 };

  constructor(config: FaultConfig = {}) {
    this.arcFailProb = config.arcFailProb ?? 0;
    this.arcFailErrno = config.arcFailErrno ?? 'EIO';
    this.afterFailure = config.afterFailure ?? 'along-path';
    this.overrunProb = config.overrunProb ?? 0;
    this.overrunMultiplier = config.overrunMultiplier ?? DEFAULT_OVERRUN;
    this.sizeQueryFailProb = config.sizeQueryFailProb ?? 0;
    this.sizeQueryErrno = config.sizeQueryErrno ?? 'ENOTTY';
    checkProbability('faults.arcFailProb', this.arcFailProb);
    checkProbability('faults.overrunProb', this.overrunProb);
    checkProbability('faults.sizeQueryFailProb', this.sizeQueryFailProb);
    checkMultiplier(this.overrunMultiplier);
    checkAfterFailure(this.afterFailure);
  }

  /** Queues a one-shot fault. */
  inject(fault: OneShotFault): void {
    if (fault.kind !== 'size-query' && fault.arc !== undefined) checkArcKey(fault.arc);
    if (fault.kind === 'arc-fail' && fault.after !== undefined) checkAfterFailure(fault.after);
    if (fault.kind === 'overrun' && fault.multiplier !== undefined) checkMultiplier(fault.multiplier);
    this.pending.push(fault);
  }

  /** One-shot faults not fired yet. */
  get pendingFaults(): readonly OneShotFault[] {
    return this.pending;
  }

  /** Decides the faults of the arc `key` about to run. */
  decideArc(key: string, rng: Rng): ArcFaultDecision {
    const d = this.decision;
    d.failErrno = undefined;
    d.latencyMultiplier = 1;
    let oneShotFail = false;
    let oneShotOverrun = false;
    for (let i = 0; i < this.pending.length; i++) {
      const f = this.pending[i]!;
      if (f.kind === 'size-query' || (f.arc !== undefined && f.arc !== key)) continue;
      if (f.kind === 'arc-fail' && !oneShotFail) {
        oneShotFail = true;
        d.failErrno = f.errno ?? this.arcFailErrno;
        d.failAfter = f.after ?? this.pickAfter(rng);
      } else if (f.kind === 'overrun' && !oneShotOverrun) {
        oneShotOverrun = true;
        d.latencyMultiplier = f.multiplier ?? DEFAULT_OVERRUN;
      } else {
        continue;
      }
      this.pending.splice(i--, 1);
    }
    if (!oneShotFail && rng.chance(this.arcFailProb)) {
      d.failErrno = this.arcFailErrno;
      d.failAfter = this.pickAfter(rng);
    }
    if (!oneShotOverrun && rng.chance(this.overrunProb)) d.latencyMultiplier = this.overrunMultiplier;
    return d;
  }

  /** errno when this MIG_DATA_SIZE query fails, else `undefined`. */
  decideSizeQuery(rng: Rng): SizeQueryErrno | undefined {
    const i = this.pending.findIndex((f) => f.kind === 'size-query');
    if (i >= 0) {
      const f = this.pending[i]!;
      this.pending.splice(i, 1);
      return (f.kind === 'size-query' ? f.errno : undefined) ?? this.sizeQueryErrno;
    }
    return rng.chance(this.sizeQueryFailProb) ? this.sizeQueryErrno : undefined;
  }

  private pickAfter(rng: Rng): AfterFailureMode {
    return typeof this.afterFailure === 'string' ? this.afterFailure : rng.weighted(this.afterFailure);
  }
}

function checkMultiplier(value: number): void {
  checkNonNegative('overrun multiplier', value);
  if (value < 1) throw new SimError('E_SIM_CONFIG', `an overrun multiplier must be ≥ 1, got ${value}`);
}

function checkAfterFailure(spec: AfterFailureSpec): void {
  const modes = typeof spec === 'string' ? [spec] : Object.keys(spec);
  let total = typeof spec === 'string' ? 1 : 0;
  for (const m of modes) {
    if (!(AFTER_FAILURE_MODES as readonly string[]).includes(m)) {
      throw new SimError('E_SIM_CONFIG', `unknown after-failure mode "${m}" (one of ${AFTER_FAILURE_MODES.join(', ')})`);
    }
    if (typeof spec !== 'string') {
      const w = spec[m as AfterFailureMode] ?? 0;
      checkNonNegative(`after-failure weight of ${m}`, w);
      total += w;
    }
  }
  if (!(total > 0)) throw new SimError('E_SIM_CONFIG', 'after-failure weights must have a positive sum');
}

function checkArcKey(key: string): void {
  const parts = key.split('>');
  if (parts.length !== 2 || parts.some((p) => parseStateName(p) === undefined)) {
    throw new SimError('E_SIM_CONFIG', `"${key}" is not an arc key like "PRE_COPY_P2P>STOP_COPY"`);
  }
}
