// What both listeners (the main one, and METRICS_PORT's) share: request timeouts, request ids, JSON answers for
// requests Node or Fastify refuse before any route, and the drain at shutdown.
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { LogController, type FastifyHttpOptions, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import type { AllowedOrigins } from './config.js'
import { corsForEarlyAnswer } from './cors.js'
import type { Drain } from './drain.js'
import { clientErrorHandler, frameworkError, httpError, shortened } from './plugins/error-handler.js'
import { requestId } from './request-id.js'

export interface ListenerSettings {
  requestTimeoutMs: number
  allowedOrigins: AllowedOrigins
  trustProxy: FastifyServerOptions['trustProxy']
}

export function listenerOptions (settings: ListenerSettings, drain: Drain): FastifyHttpOptions<Server> {
  return {
    // A client that never finishes its request gets a 408 instead of holding a socket for as long as it likes.
    // Node checks every 30 s by default, which would let a short timeout run far over, and it swaps the two timeouts
    // when the headers' (60 s) is the longer, so that is capped too.
    requestTimeout: settings.requestTimeoutMs,
    http: {
      connectionsCheckingInterval: timeoutCheckInterval(settings.requestTimeoutMs),
      ServerResponse: drain.ServerResponse,
      headersTimeout: Math.min(60_000, settings.requestTimeoutMs),
      // Node would answer a missing Host with an empty 400; the onRequest hook answers it in JSON.
      requireHostHeader: false
    },
    clientErrorHandler: clientErrorHandler(settings),
    frameworkErrors: (err, request, reply) => {
      reply.header('x-request-id', request.id)
      if (!corsForEarlyAnswer(settings.allowedOrigins, request, reply)) frameworkError(err, request, reply)
    },
    // Request lines would cost every send a log write; connects, closes and offline skips are logged instead.
    logController: new LogController({ disableRequestLogging: true }),
    // Behind a load balancer the per-IP limits must count the client it forwards, not the balancer.
    trustProxy: settings.trustProxy,
    requestIdHeader: false,
    genReqId: requestId
  }
}

/**
 * Header checks Node would answer with an empty body: a request without Host (requireHostHeader is off above), and
 * an Expect other than 100-continue (routeUnmetExpectations hands those to Fastify). This answers in JSON, says why,
 * and the refusal is logged like any other.
 */
export function refusedHeaders (request: FastifyRequest): Error | undefined {
  if (request.headers.host === undefined && request.raw.httpVersion === '1.1') return httpError(400, 'the Host header is required in HTTP/1.1 (RFC 9112)')
  if (request.headers.expect !== undefined && unmetExpectations.has(request.raw)) {
    return httpError(417, `the Expect header ${JSON.stringify(shortened(request.headers.expect))} cannot be met: only 100-continue can`)
  }
}

const unmetExpectations = new WeakSet<IncomingMessage>()

/** Node answers an Expect it cannot meet (anything but 100-continue) with a bare 417 itself; this routes it instead. */
export function routeUnmetExpectations (server: Server): void {
  server.on('checkExpectation', (request: IncomingMessage, response: ServerResponse) => {
    unmetExpectations.add(request)
    server.emit('request', request, response)
  })
}

/**
 * How often Node looks for requests over their timeout: a tenth of it, from 10 ms to 1 s, so a 408 comes at most 10 %
 * (and never more than a second) after the timeout. Checking at the timeout itself let a 1 s timeout run to 2 s.
 */
export function timeoutCheckInterval (requestTimeoutMs: number): number {
  return Math.min(1000, Math.max(10, Math.ceil(requestTimeoutMs / 10)))
}
