/**
 * A VM's miss probability at its best case: no guest RAM left, a guest that dirties nothing, and
 * every device's pre-copy data sent — the least risk any switchover of this VM can take with
 * today's devices, link and stack (`estimators/term-risk.ts`). What the fleet's allowance is
 * spent by (`risk-knapsack.ts`): a VM whose best case already risks more than its share is
 * refused at the first poll, and one that risks little waits for a bound near that little.
 */
import { channelLinkName } from '../estimators/channels.js';
import { blackoutMissProbability, type CompiledModel } from '../estimators/predict.js';
import { isSourceState, sizesKnown, withoutPrecopyPending } from './snapshot-devices.js';
import { stackOfSnapshot } from './snapshot-stack.js';
import type { VmSnapshot } from './types.js';

/**
 * P(blackout > `limitMs`) at the snapshot's best case; 1 when a device is in ERROR or an unknown
 * state, a size query failed, or the model cannot predict the VM; undefined when the model has
 * no terms (`CalibrationModel.terms`).
 */
export function bestCaseMissProbability(snapshot: VmSnapshot, model: CompiledModel, limitMs: number): number | undefined {
  if (model.terms === null) return undefined;
  const devices = snapshot.devices;
  // ERROR is not a source state (`isSourceState`): one check covers a device in ERROR too.
  if (!sizesKnown(devices) || devices.some((d) => !isSourceState(d))) return 1;
  const drained = devices.map(withoutPrecopyPending);
  return blackoutMissProbability(
    model,
    {
      devices: drained,
      ramRemainingBytes: 0,
      ramDirtyBytesPerS: 0,
      link: channelLinkName(snapshot.link ?? 'default', snapshot.multifdChannels),
      serial: snapshot.serial ?? false,
      ...stackOfSnapshot(snapshot, drained),
      deviceStateMultifd: snapshot.deviceStateMultifd,
    },
    limitMs,
  );
}
