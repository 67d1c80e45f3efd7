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

/** The parts of a `<id>;req=<n>` value, or `undefined` for anything else. */
export function parseConnectionId(value: string | undefined): { id: string; requests: number } | undefined {
  if (value === undefined) return undefined;
  const match = /^\s*([^;\s]+)\s*;\s*req=(\d+)\s*$/.exec(value);
  return match === null ? undefined : { id: match[1]!, requests: Number(match[2]) };
}
