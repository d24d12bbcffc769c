/** Switchover policies of the fleet simulator: ours and faithful models of QEMU's and KubeVirt's rules. */
export type { Policy, PolicyAction, PolicyRun } from './types.js';
export { GOVERNOR_ACI_GAMMA, GovernorPolicy, governorInitialAlpha } from './governor.js';
export type { GovernorPolicyOptions, GovernorStats } from './governor.js';
export { QemuPolicy } from './qemu.js';
export type { QemuObserver } from './qemu.js';
export { qemuCompletionCheck, qemuSwitchoverBandwidth } from './qemu-rule.js';
export type { QemuCheck } from './qemu-rule.js';
export { KubevirtPolicy } from './kubevirt.js';
export type { KubevirtOptions } from './kubevirt.js';
export { OraclePolicy } from './oracle.js';
export type { OracleOptions } from './oracle.js';
export { LawAwareProbe } from './law-aware.js';
export type { LawAwareMinimum, LawAwareOptions } from './law-aware.js';
