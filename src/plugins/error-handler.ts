// One error handler and one 404 handler: every error is JSON {statusCode, error, message};
// 4xx messages tell the client what to fix, 5xx are generic and logged in full.
import { STATUS_CODES } from 'node:http'
import fp from 'fastify-plugin'
import type { FastifyError, FastifyInstance } from 'fastify'

/** An error that the error handler answers with this status and, for a 4xx, this message. */
export function httpError (statusCode: number, message: string): Error & { statusCode: number, expose: true } {
  return Object.assign(new Error(message), { statusCode, expose: true as const })
}

export function errorBody (statusCode: number, message: string) {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message }
}

function clientMessage (err: FastifyError, contentType: string | undefined): string {
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return `Content-Type must be application/json (got ${contentType === undefined ? 'none' : JSON.stringify(contentType)})`
  }
  return err.message
}

async function errorHandlerPlugin (app: FastifyInstance): Promise<void> {
  app.setErrorHandler((err: FastifyError & { expose?: boolean }, request, reply) => {
    const statusCode = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500
    // A 503 raised on purpose (Redis away, shutting down) says why; anything else 5xx says nothing.
    if (statusCode === 503 && err.expose === true) return reply.code(503).send(errorBody(503, err.message))
    if (statusCode >= 500) {
      request.log.error({ err, method: request.method, url: request.routeOptions.url, params: request.params }, 'request failed')
      return reply.code(statusCode).send(errorBody(statusCode, 'Internal Server Error'))
    }
    return reply.code(statusCode).send(errorBody(statusCode, clientMessage(err, request.headers['content-type'])))
  })

  app.setNotFoundHandler((request, reply) => {
    // Only the path goes back: a query string may hold something that should not be echoed.
    const path = request.url.split('?', 1)[0]
    return reply.code(404).send(errorBody(404, `Route ${request.method} ${path} not found`))
  })
}

export default fp(errorHandlerPlugin, { name: 'error-handler', fastify: '5.x' })
