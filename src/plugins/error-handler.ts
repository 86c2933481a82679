// One error handler and one 404 handler: every error is JSON {statusCode, error, message};
// 4xx messages tell the client what to fix, 5xx are generic and logged in full.
import { randomUUID } from 'node:crypto'
import { maxHeaderSize, STATUS_CODES, type IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import fp from 'fastify-plugin'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { AllowedOrigins } from '../config.js'
import { rawCorsHeaders, ROUTED_METHODS } from '../cors.js'
import { throttled } from '../log-throttle.js'
import { requestId } from '../request-id.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The setting behind a route's own bodyLimit, for its 413 (the server's is BODY_LIMIT). */
    bodyLimitSetting?: string
  }
  interface FastifyInstance {
    /**
     * Logs a refusal (a 4xx, or a 503 that says why), throttled per status (see log-throttle.ts). `route` is
     * 'unmatched' when no route was found.
     */
    logRefusal: (request: Refused, statusCode: number, route: string, reason?: string) => void
  }
}

/** A client's header as quoted back (and logged as a refusal's reason): real values are far shorter than this. */
export function shortened (value: string): string {
  return value.length > 100 ? `${value.slice(0, 100)}…` : value
}

/** An error that the error handler answers with this status and, for a 4xx, this message. */
export function httpError (statusCode: number, message: string): Error & { statusCode: number, expose: true } {
  return Object.assign(new Error(message), { statusCode, expose: true as const })
}

/** A 503 for an outage that passes by itself (Redis away, load shed), with when to retry. */
export function unavailable (message: string, retryAfterSeconds = 1): Error & { statusCode: number, expose: true, headers: Record<string, string> } {
  return Object.assign(httpError(503, message), { headers: { 'retry-after': String(retryAfterSeconds) } })
}

/** What a refusal's log line names: a request, or what is known of one Node could not parse. */
interface Refused { id: string, method: string, ip: string | undefined }

export function errorBody (statusCode: number, message: string) {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message }
}

function clientMessage (err: FastifyError, request: FastifyRequest): string {
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    const contentType = request.headers['content-type']
    return `Content-Type must be application/json (got ${contentType === undefined ? 'none' : JSON.stringify(contentType)})`
  }
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    const setting = request.routeOptions.config.bodyLimitSetting ?? 'BODY_LIMIT'
    return `the body is over ${request.routeOptions.bodyLimit} bytes (${setting})`
  }
  return err.message
}

/**
 * Fastify's `frameworkErrors`: a URL it cannot decode (a broken %-escape, a path segment over its length limit)
 * is answered before any hook or the error handler runs, and Fastify's own answer has another shape. This gives it
 * the error handler's (app.ts adds the request id and CORS headers).
 */
export function frameworkError (err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const message = FRAMEWORK_MESSAGES[String(err.code)]
  // The only other one is a failed async route constraint: the server's fault, said as the error handler says it.
  if (message === undefined) {
    internalError(err, 500, request, reply)
    return
  }
  request.server.logRefusal(request, 400, 'unmatched')
  reply.code(400).send(errorBody(400, message(request)))
  // Answered before any hook, so the unmatched count's onResponse hook never sees it.
  request.server.metrics.unmatched(request.method, 400, reply.elapsedTime / 1000)
}

/** The server's own fault: logged in full, and said to the client in nothing but its status. */
function internalError (err: Error, statusCode: number, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  request.log.error({ err, method: request.method, url: request.routeOptions.url, params: request.params }, 'request failed')
  return reply.code(statusCode).send(errorBody(statusCode, 'Internal Server Error'))
}

const FRAMEWORK_MESSAGES: Record<string, (request: FastifyRequest) => string> = {
  FST_ERR_BAD_URL: request => `'${request.url.split('?', 1)[0] as string}' is not a valid URL: every % must begin a percent-encoded UTF-8 byte, such as %20 or %C3%A9`,
  // Fastify's status for it is 414, but the only such segments are user ids, and an invalid one is a 400 (the core
  // contract) like one of 65 to 100 characters.
  FST_ERR_MAX_PARAM_LENGTH: request => `a path segment is longer than ${request.server.initialConfig.maxParamLength as number} characters (a user id is at most 64)`
}

/**
 * Connections whose request was answered (an error) before its whole body arrived. Node goes on reading the body,
 * and when it never comes, the request timeout fires: that request has had its answer and gets no 408 on top. Once
 * the body is in, the connection serves the next request as usual.
 */
const earlyAnswered = new WeakSet<object>()

function answeredEarly (request: IncomingMessage): void {
  const socket = request.socket
  earlyAnswered.add(socket)
  request.once('end', () => { earlyAnswered.delete(socket) })
}

/** An answer written straight to the socket, for requests that never became a Fastify request; the socket is closed. */
function rawAnswer (socket: Duplex, statusCode: number, message: string, headers: string): void {
  const body = JSON.stringify(errorBody(statusCode, message))
  socket.end(`HTTP/1.1 ${statusCode} ${STATUS_CODES[statusCode] as string}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${headers}connection: close\r\n\r\n${body}`, () => socket.destroy())
}

/**
 * Fastify's `clientErrorHandler`: a request Node's parser refused (malformed, or headers over its limit), or one that
 * did not arrive in time. Fastify's own answer said only "Client Error" and had no request id.
 */
export function clientErrorHandler (options: { requestTimeoutMs: number, allowedOrigins: AllowedOrigins }) {
  return function (this: FastifyInstance, err: NodeJS.ErrnoException & { reason?: string }, socket: Duplex): void {
    const code = String(err.code)
    // A socket error (a reset), or a client that ended before its request was whole: nobody to answer.
    const timedOut = code === 'ERR_HTTP_REQUEST_TIMEOUT'
    if ((!timedOut && !code.startsWith('HPE_')) || code === 'HPE_INVALID_EOF_STATE' || !socket.writable || earlyAnswered.has(socket)) {
      socket.destroy()
      return
    }
    // The parser's errors all carry a reason, such as "Invalid header token".
    const [statusCode, message] = timedOut
      ? [408, `the request did not arrive in full within ${options.requestTimeoutMs} ms (REQUEST_TIMEOUT_MS)`]
      : code === 'HPE_HEADER_OVERFLOW'
        ? [431, `the request line and headers are over ${maxHeaderSize} bytes`]
        : [400, `malformed HTTP request: ${err.reason as string}`]
    const id = randomUUID()
    this.logRefusal({ id, method: '-', ip: (socket as Duplex & { remoteAddress?: string }).remoteAddress }, statusCode, 'unmatched')
    rawAnswer(socket, statusCode, message, `x-request-id: ${id}\r\n${rawCorsHeaders(options.allowedOrigins)}`)
  }
}

async function errorHandlerPlugin (app: FastifyInstance): Promise<void> {
  // Every 4xx, so that the id a client quotes can be found, and a client retrying a bad key in a loop is seen. Ids
  // and the route only: never the URL's query, headers or body.
  const report = throttled(app, (fields: { reqId: string, statusCode: number, method: string, route: string, ip: string | undefined, reason?: string }) => {
    app.log.info(fields, 'request refused')
  })
  app.decorate('logRefusal', (request: Refused, statusCode: number, route: string, reason?: string) => {
    report(statusCode, { reqId: request.id, statusCode, method: request.method, route, ip: request.ip, ...(reason === undefined ? {} : { reason }) })
  })

  // Node drops a CONNECT unanswered when nobody listens for it; this answers it like any other wrong method. The
  // socket is outside every HTTP timeout, so it is destroyed once the answer is out rather than left to the client.
  app.server.on('connect', (request: IncomingMessage, socket: Duplex) => {
    rawAnswer(socket, 405, 'CONNECT is not allowed: this server is no proxy', `x-request-id: ${requestId(request)}\r\n`)
  })
  app.setErrorHandler((err: FastifyError & { expose?: boolean, headers?: Record<string, string> }, request, reply) => {
    const statusCode = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500
    if (!request.raw.complete) answeredEarly(request.raw)
    // As Fastify's own handler does: an error may carry headers for its answer (a 415's Accept-Encoding, a 503's
    // Retry-After).
    if (err.headers !== undefined && (statusCode < 500 || err.expose === true)) reply.headers(err.headers)
    // A 503 raised on purpose (Redis away, load shed, shutting down) is a refusal like a 4xx: it says why, and is
    // logged so the id a client quotes can be found. Any other 5xx says nothing.
    if (statusCode >= 500 && !(statusCode === 503 && err.expose === true)) return internalError(err, statusCode, request, reply)
    const message = clientMessage(err, request)
    // Not a client that went away mid-request: nobody was refused, and nobody reads the answer. An auth refusal says
    // why (our own words, never the credential); other messages may quote what the client sent, a message's text too.
    if (!request.raw.socket.destroyed) app.logRefusal(request, statusCode, request.routeOptions.url ?? 'unmatched', statusCode === 401 || statusCode === 403 ? message : undefined)
    return reply.code(statusCode).send(errorBody(statusCode, message))
  })

  // Requests no route took, counted once answered: by the handler below, or by a hook before it (shedding, shutdown).
  // Its own scope, so no routed request pays for the hook.
  await app.register(async (unmatched) => {
    unmatched.addHook('onResponse', (request, reply, done) => {
      app.metrics.unmatched(request.method, reply.statusCode, reply.elapsedTime / 1000)
      done()
    })
    unmatched.setNotFoundHandler(notFound)
  })

  function notFound (request: FastifyRequest, reply: FastifyReply): FastifyReply {
    // Only the path goes back: a query string may hold something that should not be echoed.
    const path = request.url.split('?', 1)[0] as string
    // A path that exists under other methods is a 405 with Allow (RFC 9110), so `curl /send-message` says to POST.
    // OPTIONS is left out of the search: CORS answers it on every path. A route of the request's own method that
    // found nothing (a static file that is not there) is a 404.
    const allowed = ROUTED_METHODS.filter(method => app.findRoute({ method, url: path }) !== null)
    const wrongMethod = allowed.length > 0 && !allowed.includes(request.method)
    app.logRefusal(request, wrongMethod ? 405 : 404, 'unmatched')
    if (wrongMethod) {
      // OPTIONS where a route answers it: CORS's, on every path of the main listener (none on the metrics one).
      const options = app.findRoute({ method: 'OPTIONS', url: path }) === null ? [] : ['OPTIONS']
      return reply.code(405).header('allow', [...allowed, ...options].join(', '))
        .send(errorBody(405, `${request.method} is not allowed on ${path}: it takes ${allowed.join(' or ')}`))
    }
    return reply.code(404).send(errorBody(404, `Route ${request.method} ${path} not found`))
  }
}

export default fp(errorHandlerPlugin, { name: 'error-handler', fastify: '5.x' })
