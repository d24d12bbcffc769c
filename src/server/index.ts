/**
 * The local service: `vfio-sla serve --socket <path>` answers JSON-lines requests (`decide`,
 * `record`, `fit`, `model`, `health`) for VMMs in any language. Protocol: protocol.ts.
 */
export { startService, initialModel } from './start.js';
export type { StartOptions, RunningService, InitialModelOptions } from './start.js';
export { Service } from './service.js';
export type { ServiceOptions, RequestContext, ServerInfo } from './service.js';
export { ServiceServer, DEFAULT_MAX_LINE_BYTES, DEFAULT_MAX_CONNECTIONS, DEFAULT_DRAIN_TIMEOUT_MS, defaultPeerShares } from './server.js';
export type { ServerOptions } from './server.js';
export { ServiceError } from './errors.js';
export type { ServiceErrorCode } from './errors.js';
export { METHODS, parseRequest, resultLine, errorLine } from './protocol.js';
export type { Method, Request, RequestId, BadRequest } from './protocol.js';
export { parseDecideParams, MAX_DEVICES } from './decide-params.js';
export type { DecideParams } from './decide-params.js';
export { loadedModel, modelSummary } from './model-state.js';
export type { LoadedModel, ModelSource } from './model-state.js';
export { workerFitter, inlineFitter, defaultFitter } from './fitter.js';
export type { Fitter } from './fitter.js';
export type { FitJob } from './fit-job.js';
export { resolveGroup } from './group.js';
export { loadPeerCredReader, peerCredCacheDir } from './peer-cred.js';
export type { PeerCredentials, PeerCredReader, PeerCredBuildOptions, PeerShareInfo } from './peer-cred.js';
