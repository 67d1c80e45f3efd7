/**
 * express-connection-policy: explicit, correct and observable HTTP/1.1 and HTTP/2
 * connection handling for Express, node:http and node:http2. This file is the
 * public surface of the main entry point; the test helpers are
 * `express-connection-policy/testing` (src/testing/index.ts) and the doctor is the
 * package's `connection-doctor` bin (src/doctor/cli.ts).
 */
export { connectionPolicy, type ConnectionPolicy } from './policy.js';
export type { FastifyInstanceLike, FastifyPlugin, HonoMiddleware, KoaMiddleware } from './frameworks.js';
export { connectionInfo, type ConnectionInfo } from './info.js';
export type { ConnectionPolicyOptions, PolicyAnswer, PolicyFunction, ResolvedOptions } from './options.js';
export type { ConnectionStats, DrainResult, CloseReason } from './stats.js';
export type { DrainOptions } from './drain.js';
export { DECISION_CHANNEL, CLOSE_CHANNEL, type DecisionMessage, type CloseMessage } from './channels.js';
export type { OptionError, ErrorCode } from './errors.js';
