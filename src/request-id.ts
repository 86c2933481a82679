// Request ids: an incoming X-Request-Id is honoured when it is sane, otherwise one is made up.
// Fastify puts the id in every log line of the request (reqId); WebSocket connections use it as their connId
// (with a suffix of their own when the client chose it: see connectionId in routes/ws.ts).
import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'

const SANE = /^[A-Za-z0-9._:@/+=-]{1,128}$/

export function requestId (request: IncomingMessage): string {
  const incoming = request.headers['x-request-id']
  return typeof incoming === 'string' && SANE.test(incoming) ? incoming : randomUUID()
}
