import type { Socket } from 'node:net';
import { isHttpSocket, responseInFlight } from './node-internals.js';

/**
 * What a drain does to one connection, apart from the rules: the
 * transport-specific half of drain.ts. An HTTP/1.1 connection ends with
 * `Connection: close` or a FIN (here); an HTTP/2 session with GOAWAY (http2.ts).
 */
export interface Transport<C> {
  /** A response (or a stream) is in flight on it. */
  busy(connection: C): boolean;
  /** It left HTTP (an upgraded socket now belongs to its `'upgrade'` listener). */
  upgraded(connection: C): boolean;
  /**
   * A response whose head already went out as keep-alive is in flight: end the
   * connection once it (and whatever is queued behind it) has been written;
   * `ending()` is called just before.
   */
  endAfterInFlight(connection: C, ending: () => void): void;
  /** Whether a response head already went out on it (its decision cannot change). */
  headSent(connection: C): boolean;
  /** Ends an idle connection (at once, or at the end of `idleGrace`); `closing()` is called first. */
  closeIdle(connection: C, closing: () => void): void;
  /** The deadline: no grace left. */
  destroy(connection: C): void;
}

/**
 * Ends a connection whose last response went out as keep-alive, the way Node ends
 * one after a `Connection: close` response: a FIN once everything written has been
 * flushed (RFC 9112 §9.6), then the handle is released.
 */
function endSocket(socket: Socket): void {
  if (socket.destroyed || socket.writableEnded) return;
  socket.once('finish', () => socket.destroy());
  socket.end();
}

function endAfterInFlight(socket: Socket, ending: () => void): void {
  const res = responseInFlight(socket);
  if (res === undefined) return;
  res.once('finish', () => {
    // Node assigns the next queued response, or ends a closing connection, in its
    // own 'finish' listener, which ran before this one.
    const next = responseInFlight(socket);
    if (next !== undefined) {
      if (next.headersSent) endAfterInFlight(socket, ending);
      return;
    }
    if (socket.destroyed) return;
    ending();
    endSocket(socket);
  });
}

export const http1: Transport<Socket> = {
  busy: (socket) => responseInFlight(socket) !== undefined,
  upgraded: (socket) => !isHttpSocket(socket),
  endAfterInFlight,
  headSent: (socket) => responseInFlight(socket)?.headersSent === true,
  // An idle socket has nothing unread: destroying it sends a FIN.
  closeIdle: (socket, closing) => {
    closing();
    socket.destroy();
  },
  destroy: (socket) => socket.destroy(),
};
