import type { IncomingMessage, ServerResponse } from 'node:http';
import { decisionChannel, type DecisionMessage } from './channels.js';
import { formatConnectionId } from './connection-id.js';
import { hasPassed, type ConnectionState } from './connections.js';
import type { PolicyCore } from './core.js';
import { debug } from './debug.js';
import { decideAtHead, type LEFT_TO_NODE, type Decision, type HeadInput } from './decide.js';
import { headHook } from './head-hook.js';
import { keepAliveValue, type HeaderValue } from './headers.js';
import { connectionInfo, type ConnectionInfo } from './info.js';
import { outgoingHeader, restoreNodeHint } from './node-internals.js';
import type { PolicyAnswer } from './options.js';

/** Statuses and methods whose responses have no body, so need no length to be delimited. */
function isBodyless(req: IncomingMessage, res: ServerResponse): boolean {
  const status = res.statusCode;
  return req.method === 'HEAD' || status === 204 || status === 304 || (status >= 100 && status < 200);
}

/**
 * The head-time step: just before a response head is written, when every handler
 * has had its say, `decideAtHead()` gives the decision and it is written into the
 * head. Two hooks, shared by every response (`this` is the response, so nothing
 * is allocated per request): `armed` for a response whose keep-alive answer was
 * known at arrival and handed to Node (admission.ts), `plain` for the rest.
 */
export class HeadTime {
  readonly armed: (res: ServerResponse) => void;
  readonly plain: (res: ServerResponse) => void;
  readonly #core: PolicyCore;

  constructor(core: PolicyCore) {
    this.#core = core;
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the listeners' own `this` is the response
    const head = this;
    this.armed = headHook(function atHeadArmed(this: ServerResponse) {
      head.#atHead(this, true);
    });
    this.plain = headHook(function atHead(this: ServerResponse) {
      head.#atHead(this, false);
    });
  }

  #atHead(res: ServerResponse, armed: boolean): void {
    const req = res.req;
    const state = this.#core.tracker.get(req.socket);
    // Released already: the client went away before the head, and nothing will be written.
    if (state === undefined) return;
    const info = connectionInfo(req)!;
    const responseConnection = outgoingHeader(res, 'connection');
    const verdict = this.#decide(req, res, state, info, responseConnection);
    if ('leftToNode' in verdict) {
      // Node writes the head as it would have; put back the hint fields it copied from the server.
      if (armed && this.#core.options.advertise) restoreNodeHint(res);
      // A close certain at this request's arrival is not carried by Node's head: the
      // next request on the connection is handled as usual.
      if (info.requests === state.requests) state.closePending = false;
      // Its head is written: whether it passes the middleware later no longer matters.
      state.notPassed?.delete(info.requests);
      if (debug.enabled) debug('sock#%d req#%d left to Node: %s', info.id, info.requests, verdict.reason);
      return;
    }
    if (!verdict.keepAlive) {
      this.#core.tracker.markClosing(state, verdict.closedBy);
      // Node ends the socket after a response that carries `Connection: close`, once
      // it has been written in full (RFC 9112 §9.6), and writes no response queued
      // behind it on a pipelined connection (rule 7).
      res.setHeader('Connection', 'close');
      res.removeHeader('Keep-Alive');
    } else if (!armed || responseConnection !== undefined || outgoingHeader(res, 'keep-alive') !== undefined) {
      // An armed response whose handler set neither field is left as it is: Node
      // writes `Connection: keep-alive` and, from the fields set at arrival, exactly
      // our hint. Otherwise both are explicit (a `Connection` header of ours also
      // keeps Node from adding a Keep-Alive hint of its own): one hint, ours, or none.
      this.#writeKeepAlive(res, responseConnection, info);
    }
    this.#report(res, verdict, info);
  }

  #decide(
    req: IncomingMessage,
    res: ServerResponse,
    state: ConnectionState,
    info: ConnectionInfo,
    responseConnection: HeaderValue,
  ): Decision | typeof LEFT_TO_NODE {
    const core = this.#core;
    const http10 = req.httpVersionMinor === 0;
    // A function was asked at arrival (admission.ts); only a 'close' is remembered.
    const functionClose = state.functionClose?.requests === info.requests ? state.functionClose : undefined;
    const input: HeadInput & { policyAnswer: PolicyAnswer } = {
      requestConnection: req.headers.connection,
      http10,
      draining: core.draining,
      policyAnswer: core.fixedAnswer ?? (functionClose === undefined ? 'keep-alive' : 'close'),
      policySource: functionClose?.source ?? core.policySource,
      requests: info.requests,
      maxRequests: core.options.maxRequests,
      // No clock read per response unless an age limit applies.
      age: state.ageLimit === Infinity ? 0 : Date.now() - state.openedAt,
      ageLimit: state.ageLimit,
      responseConnection,
      // Only HTTP/1.0 lacks chunked coding; HTTP/1.1 bodies are always delimited.
      delimited: !http10 || res.hasHeader('content-length') || isBodyless(req, res),
      reachedMiddleware: hasPassed(state, info.requests),
      refusedBehind: state.refusedBehind,
      handledBehind: state.requests > info.requests,
    };
    return decideAtHead(input);
  }

  #writeKeepAlive(res: ServerResponse, responseConnection: HeaderValue, info: ConnectionInfo): void {
    const options = this.#core.options;
    if (responseConnection === undefined) res.setHeader('Connection', 'keep-alive');
    if (options.advertise) {
      res.setHeader('Keep-Alive', keepAliveValue(options.advertisedTimeout, options.maxRequests - info.requests));
    } else {
      res.removeHeader('Keep-Alive');
    }
  }

  /** The connection id header, the debug log and the decision channel: every decision, the same path. */
  #report(res: ServerResponse, verdict: Decision, info: ConnectionInfo): void {
    const exposeId = this.#core.options.exposeConnectionId;
    if (exposeId !== false) res.setHeader(exposeId, formatConnectionId(info.id, info.requests));
    if (debug.enabled) {
      debug('sock#%d req#%d %s: %s', info.id, info.requests, verdict.keepAlive ? 'keep-alive' : 'close', verdict.reason);
    }
    if (decisionChannel.hasSubscribers) {
      const message: DecisionMessage = {
        request: res.req,
        response: res,
        info,
        keepAlive: verdict.keepAlive,
        reason: verdict.reason,
      };
      decisionChannel.publish(message);
    }
  }
}
