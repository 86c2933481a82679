// buildApp(config): the whole service as one ready, non-listening Fastify instance.
// server.ts reads the environment and listens; tests call buildApp with a config object.
import Fastify, { type FastifyServerOptions } from 'fastify'
import cors from '@fastify/cors'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { closeGraceMs, type Config } from './config.js'
import auth from './plugins/auth.js'
import connections from './plugins/connections.js'
import errorHandler, { unavailable } from './plugins/error-handler.js'
import jsonBody from './plugins/json-body.js'
import loadShedding from './plugins/load-shedding.js'
import metrics from './plugins/metrics.js'
import openapi from './plugins/openapi.js'
import publisherAuth from './plugins/publisher-auth.js'
import consoleRoutes from './routes/console.js'
import healthRoutes from './routes/health.js'
import { presenceRoutes, statsRoutes } from './routes/presence.js'
import sendRoutes from './routes/send.js'
import tokenRoutes from './routes/tokens.js'
import wsRoutes from './routes/ws.js'
import { Drain } from './drain.js'
import { listenerOptions, refusedHeaders, routeUnmetExpectations } from './listener.js'
import { corsOptions, corsForEarlyAnswer } from './cors.js'
import { formatValidationError } from './validation.js'
import { lazyChildLogger } from './request-logger.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Plain HTTP connections still open: what holds a shutdown that times out. */
    openHttpConnections: () => number
    /** Makes /ready fail from now on, so that load balancers stop sending work here before the shutdown begins. */
    leaveRotation: () => void
  }
}

export interface BuildOptions {
  /** Passed to Fastify: false (default) for silence, or pino options. */
  logger?: FastifyServerOptions['logger']
  /** Where the console's browser build lives (default: dist/public of this package). */
  consoleAssetsDir?: string
}

export async function buildApp (config: Config, options: BuildOptions = {}) {
  const drain = new Drain()
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: config.bodyLimit,
    ...listenerOptions(config, drain),
    schemaErrorFormatter: formatValidationError,
    // Turned away by the hook below instead, with the request's id and a message that says what to do.
    return503OnClosing: false,
    // Without a logger Fastify hands every request the same silent logger and makes no children at all.
    ...(options.logger === undefined || options.logger === false ? {} : { childLoggerFactory: lazyChildLogger }),
    ajv: {
      // A typo such as "reciever" or a number where text belongs is a 400, never silently dropped or coerced.
      customOptions: { removeAdditional: false, coerceTypes: false, allErrors: true }
    }
  }).withTypeProvider<TypeBoxTypeProvider>()
  // JSON only: Fastify's built-in text/plain parser would turn a plain-text body into a confusing 400 instead of a 415.
  app.removeContentTypeParser('text/plain')
  await app.register(jsonBody)
  // From the start of a shutdown every new request is turned away (Fastify adds Connection: close), while open
  // WebSockets are closed; the listener itself closes after them.
  drain.track(app.server)
  routeUnmetExpectations(app.server)
  app.addHook('preClose', (done) => {
    drain.begin()
    done()
  })
  // For the line of a shutdown that timed out: what still held it.
  app.decorate('openHttpConnections', () => drain.connections)
  // Every answer names its request, so a client can quote it and an operator can grep for it. Set before any other
  // hook can answer (CORS preflights, load shedding, auth); Fastify keeps it on error answers too.
  // Callback-style hooks on every request: no promise per request on the send path.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id)
    if (drain.begun) {
      if (corsForEarlyAnswer(config.allowedOrigins, request, reply)) return
      return done(unavailable('shutting down: this request was not handled; retry on another node'))
    }
    done(refusedHeaders(request))
  })

  // Before any route: a route takes the error handler in place when it is made (/metrics among them).
  await app.register(errorHandler)
  await app.register(connections, {
    maxBufferedBytes: config.maxBufferedBytes,
    redisUrl: config.redisUrl,
    nodeId: config.nodeId,
    nodeTtlMs: config.nodeTtlMs,
    closeGraceMs: closeGraceMs(config.shutdownTimeoutMs)
  })
  await app.register(auth, { apiKeys: config.apiKeys, jwtSecret: config.jwtSecret })
  // Before CORS, whose OPTIONS route it then measures like every other (it instruments routes as they are added).
  await app.register(metrics, { enabled: config.metrics, port: config.metricsPort, host: config.metricsHost ?? config.host, listener: config })
  await app.register(cors, corsOptions(config.allowedOrigins))
  await app.register(loadShedding, { maxEventLoopDelayMs: config.shedEventLoopDelayMs, maxHeapUsedBytes: config.shedHeapUsedBytes })
  await app.register(openapi)
  // Set by server.ts when a stop signal comes with SHUTDOWN_DELAY_MS: /ready fails while everything else serves on.
  let leaving = false
  app.decorate('leaveRotation', () => { leaving = true })
  await app.register(healthRoutes, { leaving: () => leaving })
  await app.register(async (publisher) => {
    await publisher.register(publisherAuth, { rateLimitPerMinute: config.rateLimitPerMinute })
    await publisher.register(sendRoutes, { maxMessageLength: config.maxMessageLength, batchBodyLimit: config.batchBodyLimit })
    await publisher.register(tokenRoutes)
  })
  // Whether a given user is online is for publishers only; /stats (aggregate counts) stays open, like /health.
  await app.register(async (reader) => {
    await reader.register(publisherAuth, { rateLimitPerMinute: 0 })
    await reader.register(presenceRoutes)
  })
  await app.register(statsRoutes)
  await app.register(consoleRoutes, { maxMessageLength: config.maxMessageLength, assetsDir: options.consoleAssetsDir })
  await app.register(wsRoutes, {
    allowedOrigins: config.allowedOrigins,
    upgradeRatePerMinute: config.upgradeRatePerMinute,
    maxConnectionsPerUser: config.maxConnectionsPerUser,
    heartbeatIntervalMs: config.heartbeatIntervalMs
  })
  // After the WebSockets' close (their preClose hook comes first), just before Fastify closes the listener.
  app.addHook('preClose', (done) => {
    drain.closeUnanswered()
    done()
  })
  await app.ready()
  return app
}

export type App = Awaited<ReturnType<typeof buildApp>>
