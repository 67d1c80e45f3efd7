import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';

// The policy for every framework built on node:http (SPEC §6): each adapter hands
// the framework's Node request and response to the middleware at the framework's
// first hook. Typed structurally: no framework's types are imported, so none is a
// dependency, and each framework's own instance type is assignable to these.

type Middleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;
type Done = (err?: Error) => void;

/** What the Fastify plugin needs of a Fastify instance. */
export interface FastifyInstanceLike {
  readonly server: unknown;
  addHook: (...args: never[]) => unknown;
}

/** A Fastify plugin (`fastify.register(policy.fastify)`), applied to the root instance like `fastify-plugin`'s. */
export type FastifyPlugin = (instance: FastifyInstanceLike, options: unknown, done: Done) => void;

/** Koa middleware: `app.use(policy.koa)`, first. */
export type KoaMiddleware = (ctx: { req: IncomingMessage; res: ServerResponse }, next: () => Promise<unknown>) => Promise<void>;

/** Hono middleware for `@hono/node-server`: `app.use(policy.hono)`, first. */
export type HonoMiddleware = (c: { env?: unknown }, next: () => Promise<void>) => Promise<void>;

/**
 * Runs the middleware; resolves when it hands the request on (it never passes an
 * error). A request it refuses (rule 7) is never answered: that promise never settles.
 */
function run(middleware: Middleware, req: IncomingMessage, res: ServerResponse): Promise<void> {
  return new Promise((resolve) => middleware(req, res, () => resolve()));
}

export interface Adapters {
  fastify: FastifyPlugin;
  koa: KoaMiddleware;
  hono: HonoMiddleware;
}

/**
 * The three adapters of one policy. `attach` and `drain` are the policy's own: the
 * Fastify plugin attaches the server when Fastify is ready and drains in its
 * `preClose` hook, so `fastify.close()` resolves once the drain has.
 */
export function adapters(
  middleware: Middleware,
  attach: (server: HttpServer) => unknown,
  drain: () => Promise<unknown>,
): Adapters {
  const fastify: FastifyPlugin = (instance, _options, done) => {
    const addHook = (instance.addHook as unknown as (name: string, hook: (...args: never[]) => void) => void).bind(instance);
    // First onRequest hook: registered before any other plugin, it runs before their hooks.
    addHook('onRequest', (request: { raw: IncomingMessage }, reply: { raw: ServerResponse }, next: Done) =>
      middleware(request.raw, reply.raw, next as (err?: unknown) => void),
    );
    addHook('onReady', (ready: Done) => {
      attach(instance.server as HttpServer);
      ready();
    });
    addHook('preClose', (closing: Done) => {
      drain().then(() => closing(), closing);
    });
    done();
  };
  // fastify-plugin's markers, without the dependency: the hooks apply to the root
  // instance, not to an encapsulated child context, and the plugin has a name.
  Object.assign(fastify, {
    [Symbol.for('skip-override')]: true,
    [Symbol.for('fastify.display-name')]: 'express-connection-policy',
    [Symbol.for('plugin-meta')]: { name: 'express-connection-policy' },
  });
  const koa: KoaMiddleware = async (ctx, next) => {
    await run(middleware, ctx.req, ctx.res);
    await next();
  };
  const hono: HonoMiddleware = async (c, next) => {
    const env = c.env as { incoming?: IncomingMessage; outgoing?: ServerResponse } | undefined;
    // Not on @hono/node-server (Bun, Deno, a worker): no Node request, nothing to do.
    if (env?.incoming !== undefined && env.outgoing !== undefined) await run(middleware, env.incoming, env.outgoing);
    await next();
  };
  return { fastify, koa, hono };
}
