import { channel } from 'node:diagnostics_channel';

/**
 * `node:diagnostics_channel` names (README, "Metrics and tracing"): APM
 * agents and OpenTelemetry instrumentations subscribe by name, as they do to
 * undici's and `node:http`'s own channels, without wrapping anything.
 */
export const DECISION_CHANNEL = 'express-connection-policy:decision';
export const CLOSE_CHANNEL = 'express-connection-policy:close';

/**
 * Looked up once: `channel()` returns the same object for a name, so a
 * subscriber that arrives later is seen through `hasSubscribers` on the next
 * request. Publishing is guarded by `hasSubscribers` at every call site, so
 * nothing is built or sent when nobody listens.
 */
export const decisionChannel = channel(DECISION_CHANNEL);
export const closeChannel = channel(CLOSE_CHANNEL);
