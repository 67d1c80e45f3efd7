/**
 * Connection ids and the `<id>;req=<n>` format of `exposeConnectionId` (README,
 * "Options"): one home for the counter, the formatter and the parser, which the
 * middleware, the test helpers and the doctor share.
 */

/** Ids are unique per process, so two policies (or two servers) never repeat one. */
let lastConnectionId = 0;
const connectionIds = new WeakMap<object, number>();

/**
 * The process-wide id of a connection (a socket, or an HTTP/2 session), drawn on
 * first sight and shared by every policy that sees it.
 */
export function connectionIdOf(connection: object): number {
  let id = connectionIds.get(connection);
  if (id === undefined) {
    id = ++lastConnectionId;
    connectionIds.set(connection, id);
  }
  return id;
}

/** `<id>;req=<n>`: the connection's id and the request's ordinal on it. */
export function formatConnectionId(id: number | string, requests: number): string {
  return `${id};req=${requests}`;
}

/**
 * The parts of an `x-connection-id` value as another server (or a proxy) may
 * send it too: the id is what precedes the first `;`, the ordinal is `req=<n>`
 * where present. `undefined` for no value.
 */
export function parseConnectionId(value: string | undefined): { id: string; requests: number | undefined } | undefined {
  if (value === undefined) return undefined;
  const semicolon = value.indexOf(';');
  const id = (semicolon === -1 ? value : value.slice(0, semicolon)).trim();
  const ordinal = /(?:^|;)\s*req=(\d+)\s*(?:;|$)/.exec(value.slice(semicolon + 1));
  return { id, requests: semicolon === -1 || ordinal === null ? undefined : Number(ordinal[1]) };
}
