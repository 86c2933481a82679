// Presence and stats: answered from index sizes (one node) or Redis counters (cluster), in constant time.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ErrorSchema } from '../schemas/common.js'
import { PresenceSchema, StatsSchema } from '../schemas/presence.js'
import { WsParamsSchema } from '../schemas/ws.js'

const presenceRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { fanout } = app

  app.get('/presence/:userId', {
    schema: {
      summary: 'Is this user online, and with how many connections?',
      tags: ['presence'],
      params: WsParamsSchema,
      response: { 200: PresenceSchema, 400: ErrorSchema, 503: ErrorSchema }
    }
  }, async (request) => {
    const { userId } = request.params
    const count = await fanout.presence(userId)
    return { userId, online: count > 0, connections: count }
  })

  app.get('/stats', {
    schema: {
      summary: 'Open connections, the users they belong to, and the topics they hold',
      tags: ['presence'],
      response: { 200: StatsSchema, 503: ErrorSchema }
    }
  }, async () => await fanout.stats())
}

export default presenceRoutes
