/**
 * The fleet simulator: VMs with VFIO devices migrated end to end on virtual clocks, and the job
 * that compares switchover policies on them (`vfio-sla demo`, `npm start`).
 */
export { drawVmSpec, drawFleet, DEFAULT_FLEET_MIX } from './vm-spec.js';
export type { VmSpec, DeviceSpec, FleetMix, WorkloadRegime } from './vm-spec.js';
export { runMigration } from './run-migration.js';
export type { MigrationResult, RunMigrationOptions } from './run-migration.js';
export { MigrationWorld, enterDirect } from './migration-world.js';
export type { EnterContext, EnterResult, EnterStopCopy, SwitchoverOutcome, CompletedSwitchover, WorldObserver } from './migration-world.js';
export { TrueBlackout } from './true-blackout.js';
export { summarize, pairedTimeRatio } from './metrics.js';
export type { PolicySummary } from './metrics.js';
export { TelemetryRecorder, arcRecordOf } from './recorder.js';
export type { MigrationRecorder } from './recorder.js';
