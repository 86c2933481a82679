// Guards WebSocket upgrades before any 101 (registered after @fastify/websocket, whose own onRequest hook
// must run first so that a refused upgrade's socket is closed): the Origin check (CORS does not protect upgrades, so this
// is what stops cross-site WebSocket hijacking), the per-IP upgrade rate limit, and the receiver token.
import rateLimit from '@fastify/rate-limit'
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { AuthFailure, bearerCredential, type ReceiverTokens } from '../auth.js'
import type { AllowedOrigins } from '../config.js'
import { refuseUrlCredentials } from './auth.js'
import { httpError, shortened } from './error-handler.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** When the upgrade's token expires (ms since the epoch); null when no token is needed. */
    tokenExpiresAt: number | null
  }
}

export const SUBPROTOCOL = 'pushwire'
/**
 * Offered next to SUBPROTOCOL by a client that wants heartbeat frames (see routes/ws.ts): selected in its place, so
 * the client learns whether this server sends them; an older server selects SUBPROTOCOL and sends none.
 */
export const HEARTBEAT_SUBPROTOCOL = 'pushwire.heartbeat'
export const TOKEN_PREFIX = 'bearer.'

/** The receiver token of an upgrade: from `Authorization: Bearer`, or the `bearer.<jwt>` subprotocol browsers use. */
export function upgradeToken (request: FastifyRequest): string | null {
  const fromHeader = bearerCredential(request.headers.authorization)
  if (fromHeader !== null) return fromHeader
  const offered = request.headers['sec-websocket-protocol']?.split(',') ?? []
  const entry = offered.map(p => p.trim()).find(p => p.startsWith(TOKEN_PREFIX) && p.length > TOKEN_PREFIX.length)
  return entry === undefined ? null : entry.slice(TOKEN_PREFIX.length)
}

interface UpgradeGuardOptions { allowedOrigins: AllowedOrigins, upgradeRatePerMinute: number }

async function upgradeGuardPlugin (app: FastifyInstance, opts: UpgradeGuardOptions): Promise<void> {
  app.decorateRequest('tokenExpiresAt', null)
  app.addHook('onRequest', refuseUrlCredentials)
  const { allowedOrigins } = opts
  if (allowedOrigins !== '*') {
    const allowed = new Set(allowedOrigins)
    app.addHook('onRequest', async (request) => {
      const origin = request.headers.origin
      // No Origin: not a browser, so not a cross-site page riding on a user's cookies.
      if (origin !== undefined && !allowed.has(origin)) throw httpError(403, `origin ${JSON.stringify(shortened(origin))} is not allowed (ALLOWED_ORIGINS)`)
    })
  }
  if (opts.upgradeRatePerMinute > 0) {
    await app.register(rateLimit, {
      max: opts.upgradeRatePerMinute,
      timeWindow: 60_000,
      errorResponseBuilder: (_request, context) => httpError(429, `too many WebSocket upgrades from this address: the limit is ${context.max} per minute (UPGRADE_RATE_PER_MINUTE); retry in ${context.after}`)
    })
  }
}

/** Verifies the receiver token of an upgrade and notes when it expires; throws a 401 or 403. */
export async function authenticateUpgrade (tokens: ReceiverTokens, request: FastifyRequest, reply: FastifyReply, topics: string[]): Promise<void> {
  const token = upgradeToken(request)
  if (token === null) {
    reply.header('www-authenticate', 'Bearer realm="pushwire"')
    // A header of another scheme (a page behind basic auth) is no error while the token rides in the subprotocols.
    if (request.headers.authorization !== undefined) throw new AuthFailure(401, 'the Authorization header must be "Bearer <token>", or from a browser send the token in the subprotocols ["pushwire", "bearer.<token>"]')
    throw new AuthFailure(401, 'a receiver token is required: send "Authorization: Bearer <token>", or from a browser the subprotocols ["pushwire", "bearer.<token>"]')
  }
  try {
    const verified = await tokens.verify(token, (request.params as { userId: string }).userId, topics)
    request.tokenExpiresAt = verified.exp * 1000
  } catch (err) {
    if ((err as AuthFailure).statusCode === 401) reply.header('www-authenticate', 'Bearer realm="pushwire", error="invalid_token"')
    throw err
  }
}

export default fp(upgradeGuardPlugin, { name: 'upgrade-guard', fastify: '5.x', dependencies: ['auth'] })
