/** Real-device use cases: loopback migration cycles, `probe`, FSM conformance against a live kernel. */
export { migrateLoopback, describeStates } from './loopback-migration.js';
export type { StreamDevice, LoopbackOptions, CycleResult, CycleFailure } from './loopback-migration.js';
export { runProbe, summariseArcs, priorsFor, storedRecords, withKernelTimes } from './probe.js';
export type { ProbeOptions, ProbeReport, ArcSummary } from './probe.js';
export { probeSession, ProbeError } from './probe-session.js';
export type { HelperEndpoint, ProbeSessionOptions } from './probe-session.js';
export { fsmConformance, conformanceTable, expectedAnswer } from './fsm-conformance.js';
export type { ConformanceDevice, ConformanceRow, SetAnswer } from './fsm-conformance.js';
