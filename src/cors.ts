// Which pages may call the HTTP API (ALLOWED_ORIGINS), said once for @fastify/cors and for the answers given before
// its hook runs. WebSocket upgrades are checked by upgrade-guard.ts: CORS does not cover them.
import type { FastifyCorsOptions } from '@fastify/cors'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { AllowedOrigins } from './config.js'

/** The methods a route may be made for; the 404 handler looks each up to tell a 405 from a 404. */
export const ROUTED_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']
// Any method passes the preflight, though the routes take only GET and POST: a page that sends another then reads the
// 405 and its Allow header, where a refused preflight would leave it an opaque network error. `*` covers the rest
// (OPTIONS, PURGE, PROPFIND …) for requests without credentials, which are the only ones CORS lets through here
// (no Access-Control-Allow-Credentials); the names before it are for browsers that predate the wildcard.
const METHODS = [...ROUTED_METHODS, 'OPTIONS', '*'].join(', ')
const ALLOWED_HEADERS = 'Content-Type, Authorization, X-Request-Id'
// Without these a page's fetch() could not read the id to quote, when to retry, its rate-limit budget, why a key or
// token was refused, or which methods a path takes. One string: @fastify/cors joins a list again on every request.
const EXPOSED_HEADERS = 'X-Request-Id, Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, WWW-Authenticate, Allow'
const MAX_AGE_SECONDS = 600

export function corsOptions (allowedOrigins: AllowedOrigins): FastifyCorsOptions {
  return {
    origin: allowedOrigins,
    methods: METHODS,
    allowedHeaders: ALLOWED_HEADERS,
    exposedHeaders: EXPOSED_HEADERS,
    maxAge: MAX_AGE_SECONDS,
    // A bare OPTIONS (no preflight headers) would otherwise get a plain-text 400, the one non-JSON error.
    strictPreflight: false
  }
}

/**
 * For an answer given before the CORS hook runs (a URL the router cannot take, such as a broken %-escape or an
 * over-long segment; a request during shutdown): the headers @fastify/cors gives every other answer, so a page can
 * read the error. A preflight passes, as on any other path, and true says it has been answered.
 */
export function corsForEarlyAnswer (allowedOrigins: AllowedOrigins, request: FastifyRequest, reply: FastifyReply): boolean {
  const origin = request.headers.origin
  if (allowedOrigins !== '*') reply.header('vary', 'Origin')
  if (origin === undefined || (allowedOrigins !== '*' && !allowedOrigins.includes(origin))) return false
  reply.header('access-control-allow-origin', allowedOrigins === '*' ? '*' : origin)
  reply.header('access-control-expose-headers', EXPOSED_HEADERS)
  if (request.method !== 'OPTIONS' || request.headers['access-control-request-method'] === undefined) return false
  reply.header('access-control-allow-methods', METHODS)
  reply.header('access-control-allow-headers', ALLOWED_HEADERS)
  reply.header('access-control-max-age', MAX_AGE_SECONDS)
  reply.code(204).send()
  return true
}

/** Header lines for an answer written raw before any header was read (Origin unknown): only an open service has them. */
export function rawCorsHeaders (allowedOrigins: AllowedOrigins): string {
  return allowedOrigins === '*' ? `access-control-allow-origin: *\r\naccess-control-expose-headers: ${EXPOSED_HEADERS}\r\n` : ''
}
