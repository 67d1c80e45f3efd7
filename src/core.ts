import type { Server as NetServer } from 'node:net';
import { ConnectionTracker } from './connections.js';
import { DrainSignals } from './drain-signal.js';
import { Http2Sessions } from './http2.js';
import { IdleTimers } from './idle.js';
import type { PolicyAnswer, ResolvedOptions } from './options.js';

/**
 * What the parts of one policy share: its options, its connections, its idle
 * timers, the servers it was attached to and whether it is draining. Built once
 * per `connectionPolicy()` call; admission.ts, head-time.ts, drain.ts and
 * policy.ts each take it.
 */
export class PolicyCore {
  readonly options: ResolvedOptions;
  readonly tracker: ConnectionTracker;
  readonly idle: IdleTimers;
  readonly signals: DrainSignals;
  readonly http2: Http2Sessions;
  readonly servers = new Set<NetServer>();
  /** True from the first `drain()` call on: every response head closes its connection. */
  draining = false;
  /** A fixed policy's answer, or `undefined` for a function (asked at head time). */
  readonly fixedAnswer: PolicyAnswer | undefined;
  readonly policySource: string;

  constructor(options: ResolvedOptions) {
    this.options = options;
    this.tracker = new ConnectionTracker(options);
    this.signals = new DrainSignals(this.tracker);
    this.idle = new IdleTimers(options.idleTimeout, this.tracker, () => this.draining);
    const policy = options.policy;
    this.fixedAnswer = typeof policy === 'function' ? undefined : policy;
    this.policySource = typeof policy === 'function' ? 'policy function' : `policy '${policy}'`;
    this.http2 = new Http2Sessions(this);
  }
}
