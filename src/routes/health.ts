// Liveness and readiness. While the server shuts down every new request is answered 503 (app.ts), /health and /ready
// included, so a load balancer stops sending traffic here.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { HealthSchema, ReadySchema } from '../schemas/health.js'
import { ErrorSchema } from '../schemas/common.js'
import { errorBody } from '../plugins/error-handler.js'

const healthRoutes: FastifyPluginAsyncTypebox<{ leaving: () => boolean }> = async (app, opts) => {
  app.get('/health', {
    schema: {
      summary: 'Liveness: the process is up (503 only while it shuts down)',
      tags: ['operations'],
      response: { 200: HealthSchema, 503: ErrorSchema }
    }
  }, async () => ({ status: 'ok' as const }))

  app.get('/ready', {
    schema: {
      summary: 'Readiness: 200 while serving; 503 while shutting down (from the stop signal, through SHUTDOWN_DELAY_MS), shedding load, or while Redis (cluster mode) is unreachable',
      tags: ['operations'],
      response: { 200: ReadySchema, 503: ErrorSchema }
    }
  }, async (_request, reply) => {
    // Answered here, not thrown: a balancer asks every few seconds, and a 503 from /ready is no refused request to log
    // (what made the node not ready is logged when it happens).
    if (opts.leaving()) return await reply.code(503).send(errorBody(503, 'not ready: shutting down'))
    if (!app.fanout.ready) return await reply.code(503).send(errorBody(503, 'not ready: Redis is unavailable'))
    if (app.shedding()) return await reply.code(503).send(errorBody(503, 'not ready: overloaded, shedding load'))
    return { status: 'ready' as const }
  })
}

export default healthRoutes
