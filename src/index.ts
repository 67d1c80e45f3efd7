/**
 * express-connection-policy: explicit, correct and observable HTTP/1.1 connection
 * handling for Express and node:http. This file is the whole public surface.
 */
export { connectionPolicy, type ConnectionPolicy } from './policy.js';
export { connectionInfo, type ConnectionInfo } from './info.js';
export type { ConnectionPolicyOptions, PolicyAnswer, PolicyFunction, ResolvedOptions } from './options.js';
export type { ConnectionStats, DrainResult, CloseReason } from './stats.js';
export type { DrainOptions } from './drain.js';
export { DECISION_CHANNEL, CLOSE_CHANNEL, type DecisionMessage, type CloseMessage } from './channels.js';
export type { OptionError, ErrorCode } from './errors.js';
