// POST /tokens: a backend holding an API key mints receiver tokens without a JWT library of its own.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { httpError } from '../plugins/error-handler.js'
import { ErrorSchema } from '../schemas/common.js'
import { MintTokenBodySchema, MintedTokenSchema } from '../schemas/tokens.js'

const tokenRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/tokens', {
    schema: {
      summary: 'Mint a receiver token (needs an API key)',
      tags: ['auth'],
      security: [{ apiKey: [] }],
      body: MintTokenBodySchema,
      response: { 200: MintedTokenSchema, 400: ErrorSchema, 401: ErrorSchema, 404: ErrorSchema, 408: ErrorSchema, 413: ErrorSchema, 415: ErrorSchema, 429: ErrorSchema, 503: ErrorSchema }
    }
  }, async (request) => {
    const tokens = app.receiverTokens
    if (tokens === null) throw httpError(404, 'receiver tokens are off: the server has no JWT_SECRET')
    const { userId, topics, ttlSeconds } = request.body
    return await tokens.mint(userId, topics, ttlSeconds as number)
  })
}

export default tokenRoutes
