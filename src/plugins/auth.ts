// Credentials for the whole app: the publisher keys and receiver-token verifier as decorators, and the
// rule that credentials never travel in the URL (RFC 9700: URLs end up in logs and proxies).
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { PublisherKeys, ReceiverTokens } from '../auth.js'
import type { Config } from '../config.js'
import { httpError } from './error-handler.js'

declare module 'fastify' {
  interface FastifyInstance {
    publisherKeys: PublisherKeys
    /** null when JWT_SECRET is unset: receivers need no token. */
    receiverTokens: ReceiverTokens | null
  }
}

export const URL_CREDENTIALS = ['token', 'access_token', 'api_key', 'apikey']

export const URL_CREDENTIAL_MESSAGE = 'credentials in the URL are refused because URLs end up in logs and proxies: ' +
  'send the header "Authorization: Bearer <token>", or from a browser open new WebSocket(url, ["pushwire", "bearer." + token])'

/** An onRequest hook for the routes that take credentials: the publisher routes and the WebSocket upgrade. */
export function refuseUrlCredentials (request: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void): void {
  // Most requests carry no query string at all: no need to have Fastify parse one.
  if (!request.url.includes('?')) return done()
  const query = request.query as Record<string, unknown>
  for (const name of URL_CREDENTIALS) {
    if (name in query) return done(httpError(400, URL_CREDENTIAL_MESSAGE))
  }
  done()
}

async function authPlugin (app: FastifyInstance, config: Pick<Config, 'apiKeys' | 'jwtSecret'>): Promise<void> {
  app.decorate('publisherKeys', new PublisherKeys(config.apiKeys))
  app.decorate('receiverTokens', config.jwtSecret === null ? null : new ReceiverTokens(config.jwtSecret))

  if (config.apiKeys.length === 0 && config.jwtSecret === null) {
    app.log.warn('auth is off: anyone can send as anyone and listen as anyone; to turn it on, set API_KEYS and JWT_SECRET and leave AUTH unset (README: Security)')
  } else if (config.apiKeys.length === 0) {
    app.log.warn('API_KEYS is not set: anyone can publish and mint receiver tokens')
  } else if (config.jwtSecret === null) {
    app.log.warn('JWT_SECRET is not set: anyone can listen as any user')
  }
}

export default fp(authPlugin, { name: 'auth', fastify: '5.x' })
