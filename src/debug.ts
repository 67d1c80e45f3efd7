import { debuglog } from 'node:util';

/**
 * Every keep/close decision, with its reason: `NODE_DEBUG=connection-policy`.
 * Callers check `debug.enabled` before building a message, so a disabled log
 * costs one property read per decision.
 */
export const debug = debuglog('connection-policy');
