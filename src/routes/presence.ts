// Presence and stats: answered from index sizes (one node) or Redis counters (cluster), in constant time.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ErrorSchema } from '../schemas/common.js'
import { PresenceSchema, StatsSchema } from '../schemas/presence.js'
import { WsParamsSchema } from '../schemas/ws.js'

/** GET /presence/:userId: app.ts registers it behind the API key, since it tells whether a given user is online. */
export const presenceRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { fanout } = app

  app.get('/presence/:userId', {
    schema: {
      summary: 'Is this user online, and with how many connections?',
      description: 'Needs the API key when API_KEYS is set, like the POST routes (no rate limit).',
      tags: ['presence'],
      security: [{ apiKey: [] }],
      params: WsParamsSchema,
      response: { 200: PresenceSchema, 400: ErrorSchema, 401: ErrorSchema, 503: ErrorSchema }
    }
  }, async (request) => {
    const { userId } = request.params
    const count = await fanout.presence(userId)
    return { userId, online: count > 0, connections: count }
  })
}

/** GET /stats: aggregate counts only, open like /health. */
export const statsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { fanout } = app

  app.get('/stats', {
    schema: {
      summary: 'Open connections, the users they belong to, and the topics they hold',
      tags: ['presence'],
      response: { 200: StatsSchema, 503: ErrorSchema }
    }
  }, async () => await fanout.stats())
}
