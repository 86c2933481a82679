// Guards the routes only publishers may use: an API key when API_KEYS is set. Every POST also gets the per-key rate
// limit; GET /presence gets the key check alone (a read spends no send budget).
// Registered inside those routes' own contexts, so other GET routes and upgrades never run these hooks.
import rateLimit from '@fastify/rate-limit'
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { bearerCredential, type PublisherKeys } from '../auth.js'
import { refuseUrlCredentials } from './auth.js'
import { httpError } from './error-handler.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** Which API key (1-based) authenticated this request; 0 in open mode. */
    publisher: number
  }
}

export interface PublisherAuthOptions {
  /** 0 for no limit: the presence reads. */
  rateLimitPerMinute: number
}

async function publisherAuthPlugin (app: FastifyInstance, opts: PublisherAuthOptions): Promise<void> {
  const keys = app.publisherKeys
  app.decorateRequest('publisher', 0)
  app.addHook('onRequest', refuseUrlCredentials)

  if (keys.enabled) {
    app.addHook('onRequest', async (request, reply) => {
      request.publisher = publisherKey(keys, request, reply)
    })
  }

  if (opts.rateLimitPerMinute > 0) {
    await app.register(rateLimit, {
      max: opts.rateLimitPerMinute,
      timeWindow: 60_000,
      // Runs after the key check above, so a valid key gets its own budget; open mode counts per IP.
      keyGenerator: request => request.publisher > 0 ? `key#${request.publisher}` : request.ip,
      errorResponseBuilder: (_request, context) => httpError(429, `rate limit of ${context.max} requests per minute exceeded (RATE_LIMIT_PER_MINUTE); retry in ${context.after}`)
    })
  }
}

/**
 * Which API key (1-based) the request's `Authorization: Bearer <key>` holds; otherwise throws the 401 that says what
 * is wrong, `required` when no header came, with the WWW-Authenticate that goes with it.
 */
export function publisherKey (keys: PublisherKeys, request: FastifyRequest, reply: FastifyReply, required = 'an API key is required: send "Authorization: Bearer <key>"'): number {
  const header = request.headers.authorization
  const credential = bearerCredential(header)
  const match = credential === null ? 0 : keys.match(credential)
  if (match > 0) return match
  reply.header('www-authenticate', credential === null ? 'Bearer realm="pushwire"' : 'Bearer realm="pushwire", error="invalid_token"')
  if (header === undefined) throw httpError(401, required)
  if (credential === null) throw httpError(401, 'the Authorization header must be "Bearer <key>"')
  throw httpError(401, 'the API key is not valid')
}

export default fp(publisherAuthPlugin, { name: 'publisher-auth', fastify: '5.x', dependencies: ['auth'] })
