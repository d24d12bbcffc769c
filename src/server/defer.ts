/**
 * What `serve` answers when the governor would abort on a bound nobody calibrated
 * (`governor/uncalibrated.ts`): `action: "defer"`, `reason: "NO_CALIBRATED_MODEL"` — "use your
 * own switchover rule (QEMU's downtime-limit), do not cancel because of me" — with the
 * governor's own answer kept under `governor`. `serve --abort-without-model` passes the abort on.
 */
import type { Decision, DecisionAction, DecisionReason } from '../governor/types.js';
import { abortWithoutCalibratedModel } from '../governor/uncalibrated.js';

/** The `decide` reply: a {@link Decision}, or one deferred to the VMM's own rule. */
export type ServedDecision =
  | Decision
  | (Omit<Decision, 'action' | 'reason'> & {
      readonly action: 'defer';
      readonly reason: 'NO_CALIBRATED_MODEL';
      readonly governor: { readonly action: DecisionAction; readonly reason: DecisionReason };
    });

/** `d`, or its deferral when it is an abort from an uncalibrated bound and aborts need a calibrated model. */
export function served(d: Decision, abortWithoutModel: boolean): ServedDecision {
  if (abortWithoutModel || !abortWithoutCalibratedModel(d)) return d;
  return { ...d, action: 'defer', reason: 'NO_CALIBRATED_MODEL', governor: { action: d.action, reason: d.reason } };
}
