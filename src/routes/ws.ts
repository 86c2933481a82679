// GET /ws/:userId: the receive-only push channel. @fastify/websocket is registered inside this
// plugin only, so its per-request hooks never run on the send routes.
import { randomBytes } from 'node:crypto'
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import websocket from '@fastify/websocket'
import type { FastifyBaseLogger, FastifyReply } from 'fastify'
import type { WebSocket } from 'ws'
import { Connection } from '../connection-manager.js'
import { NO_LEASE, type Lease } from '../fanout/fanout.js'
import type { AllowedOrigins } from '../config.js'
import { httpError } from '../plugins/error-handler.js'
import upgradeGuard, { HEARTBEAT_SUBPROTOCOL, SUBPROTOCOL, authenticateUpgrade } from '../plugins/upgrade-guard.js'
import { parseTopicList } from '../topics.js'
import { inSlices } from '../in-slices.js'
import { textFrame } from '../ws-frame.js'
import { ErrorSchema } from '../schemas/common.js'
import { Type } from '@sinclair/typebox'
import { CLOSE, CLOSE_CODES, WS_ERROR_CLOSE_CODES } from '../close-codes.js'
import {
  ErrorFrameSchema, HeartbeatFrameSchema, MAX_CLIENT_FRAGMENTS, MAX_CLIENT_FRAME_BYTES, MessageFrameSchema, RECEIVE_ONLY_ERROR,
  WsParamsSchema, WsQuerySchema, type FrameFormat, type HeartbeatFrame
} from '../schemas/ws.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The parsed ?topics= list of a WebSocket upgrade, set by its preHandler. */
    topics: string[] | null
    /** What keeps the upgrading receiver reachable, from its preHandler on. */
    lease: Lease | null
    /** The reply of a WebSocket upgrade, from its preHandler on: the handler lets go of it after the 101. */
    upgradeReply: FastifyReply | null
  }
}

const MAX_TIMER_MS = 2 ** 31 - 1
/** An HTTP token (RFC 9110 5.6.2): what each offered subprotocol must be, as ws checks it. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
/** Around each subprotocol: spaces and tabs only, as ws parses the list (trim() would pass other whitespace to it). */
const OPTIONAL_WHITESPACE = /^[ \t]+|[ \t]+$/g
/** Sockets pinged per slice of a heartbeat sweep: about a millisecond of writes at a time. */
const HEARTBEAT_SLICE = 64
const RECEIVE_ONLY_FRAME = Buffer.from(JSON.stringify({ type: 'error', message: RECEIVE_ONLY_ERROR }))
/** Error frames stop while the client has more than this unread. */
const RECEIVE_ONLY_UNREAD_LIMIT = 16 * 1024

export interface WsRouteOptions {
  allowedOrigins: AllowedOrigins
  upgradeRatePerMinute: number
  maxConnectionsPerUser: number
  heartbeatIntervalMs: number
}

const wsRoutes: FastifyPluginAsyncTypebox<WsRouteOptions> = async (app, opts) => {
  const { connections, log } = app
  // One frame for every opted-in socket: the interval is the same for all of them.
  const heartbeatFrame = textFrame(JSON.stringify({ type: 'heartbeat', intervalMs: opts.heartbeatIntervalMs } satisfies HeartbeatFrame))

  await app.register(websocket, {
    options: {
      maxPayload: MAX_CLIENT_FRAME_BYTES,
      maxFragments: MAX_CLIENT_FRAGMENTS,
      clientTracking: false,
      perMessageDeflate: false,
      // Browsers carry the token as another subprotocol; the one selected is "pushwire.heartbeat" when offered, else
      // "pushwire". A list with neither gets none selected: browsers and ws then fail the connection, but clients that
      // RFC 6455 lets through (Python's websockets) connect, as they always have.
      handleProtocols: (offered: Set<string>) => offered.has(HEARTBEAT_SUBPROTOCOL) ? HEARTBEAT_SUBPROTOCOL : offered.has(SUBPROTOCOL) ? SUBPROTOCOL : false
    },
    preClose: (done) => { closeAll().then(() => done(), done) }
  })
  // @fastify/websocket closes a refused upgrade's socket from a hook on this plugin's routes only. An upgrade request
  // answered anywhere else (a 404, /health, the 503 while shutting down) kept its socket for good: detached from the
  // HTTP server, nobody read the client's hang-up, and shutdown waited on it. Closed once its answer is out; this
  // listener runs after @fastify/websocket's, which gave the socket that answer's ServerResponse. A completed
  // upgrade never finishes its ServerResponse (the handler detaches it), so its socket is left alone.
  app.server.on('upgrade', (_request: IncomingMessage, socket: Socket) => {
    ;(socket as Socket & { _httpMessage: ServerResponse })._httpMessage.once('finish', () => socket.destroy())
  })

  // ws writes the 101 itself: this gives it the X-Request-Id every other answer carries. It is the connection's connId
  // in the logs: the request id, with a suffix when the client chose it (see connectionId). The preHandler notes it
  // once the upgrade is going ahead.
  const upgradeIds = new WeakMap<IncomingMessage, string>()
  app.websocketServer.on('headers', (headers: string[], request: IncomingMessage) => {
    headers.push(`X-Request-Id: ${upgradeIds.get(request) as string}`)
  })

  await app.register(upgradeGuard, opts)
  app.decorateRequest('topics', null)
  app.decorateRequest('lease', null)
  app.decorateRequest('upgradeReply', null)

  // One set of socket listeners for every connection (ws calls them with the socket as `this`): per-connection
  // closures were about half a KiB of every idle connection.
  function onPong (this: WebSocket): void {
    Connection.of(this).isAlive = true
  }
  // ws ends the TCP socket once close frames went both ways, then waits 30 s for the client's FIN; a client that never
  // sends it kept counting in presence, /stats and the per-user cap all that time. The server closes first (RFC 6455
  // 7.1.1): once the end is flushed, nothing is left to say.
  function onTcpFinish (this: Socket): void {
    this.destroy()
  }
  const onMessage = guard(log, (connection: Connection) => {
    // Not once the client has left this much unread: one that sends without reading would otherwise have the server
    // queue a reply for every frame, about twelve times what it sent, with no bound.
    if (connection.socket.bufferedAmount <= RECEIVE_ONLY_UNREAD_LIMIT) connection.socket.send(RECEIVE_ONLY_FRAME, { binary: false })
  })
  // ws closes a socket that broke the protocol itself (1009 for an oversized frame) and then reports it here.
  function onError (this: WebSocket, err: Error & { code?: string }): void {
    const connection = Connection.of(this)
    connection.closeCode ??= WS_ERROR_CLOSE_CODES[String(err.code)] ?? CLOSE.protocolError.code
    log.debug({ connId: connection.id, err: err.message }, 'ws error')
  }
  const onClose = guard(log, (connection: Connection, peerCode: number) => {
    // The server's own close code when it closed first: the peer's echo may never be read.
    const code = connection.closeCode ?? peerCode
    clearTimeout(connection.expiry)
    connections.remove(connection)
    app.metrics.wsClosed(code)
    log.info({ connId: connection.id, userId: connection.userId, code, ms: Math.round(performance.now() - connection.openedAt) }, 'ws closed')
  })

  app.route({
    method: 'GET',
    url: '/ws/:userId',
    schema: {
      summary: 'Open the receive-only WebSocket of a user (upgrade required)',
      description: 'Answers 101 Switching Protocols and then pushes one frame per message; see the README for the frame shapes and close codes. A plain GET without an upgrade gets 426.',
      tags: ['receive'],
      security: [{ receiverToken: [] }],
      params: WsParamsSchema,
      querystring: WsQuerySchema,
      response: {
        101: Type.Union([MessageFrameSchema, ErrorFrameSchema, HeartbeatFrameSchema], {
          description: 'Switching Protocols. Then one text frame per message, of this shape with ?format=json (the default), or the line "[sender]: message" with ?format=text. A frame sent by the client is answered with an error frame. With ?format=text the line is "[sender]: message", "[sender → #topic]: message" or "[sender → all]: message". A client that offered the subprotocol "pushwire.heartbeat" has it selected, and gets the heartbeat frame (JSON in either format) at once and then every HEARTBEAT_INTERVAL_MS. Close codes (asyncapi.yaml says when and what to do): ' +
            `${CLOSE_CODES.map(c => c.reason === '' ? c.code : `${c.code} ${c.reason}`).join(', ')}.`
        }),
        400: ErrorSchema,
        401: ErrorSchema,
        403: ErrorSchema,
        426: ErrorSchema,
        429: ErrorSchema,
        503: ErrorSchema
      }
    },
    preHandler: async (request, reply) => {
      if (request.ws) checkHandshake(request.headers, reply)
      const parsed = parseTopicList(request.query.topics)
      if ('error' in parsed) throw httpError(400, parsed.error)
      request.topics = parsed.topics
      if (app.receiverTokens !== null) await authenticateUpgrade(app.receiverTokens, request, reply, parsed.topics)
      const { userId } = request.params
      // A plain GET (the client library asks this way why an upgrade failed) runs every check, but holds nothing: a
      // lease would count the user as connected, cluster-wide, for as long as its keep-alive connection stays open.
      if (!request.ws) return checkRoom(userId)
      // Reachable before the 101 (cluster mode: Redis has confirmed the subscriptions), so a POST made
      // anywhere after the client's `open` finds it.
      const lease = await app.fanout.acquire(userId, parsed.topics)
      try {
        admit(request.raw, userId)
      } catch (err) {
        lease.release()
        throw err
      }
      request.lease = lease
      request.upgradeReply = reply
      upgradeIds.set(request.raw, connectionId(request.id, request.headers['x-request-id']))
      // If the client vanishes before the upgrade completes, or whenever the socket finally closes.
      if (lease !== NO_LEASE) request.raw.socket.once('close', lease.release)
    },
    handler: (_request, reply) => { plainGet(reply) },
    wsHandler: (socket, request) => {
      // (format is always set: ajv fills in the schema default.)
      // Registered before this function returns: the 101 has just been written, and a POST can only
      // arrive after the client has read it, so it always finds this connection.
      const connection = new Connection(upgradeIds.get(request.raw) as string, request.params.userId, request.topics as string[], request.query.format as FrameFormat, socket)
      connection.release = (request.lease as Lease).release
      ;(admissions.get(request.raw) as () => void)()
      connections.add(connection)
      app.metrics.wsOpened()
      log.info({ connId: connection.id, userId: connection.userId, topics: connection.topics.length, ip: request.ip }, 'ws connected')
      // Nothing may keep the upgrade's request and reply once the 101 is out (about 2.5 KiB per idle connection):
      // @fastify/websocket's 'error' listener closes over both (onError below logs the same), and the ServerResponse
      // stays attached to the TCP socket.
      socket.removeAllListeners('error')
      ;(request.upgradeReply as FastifyReply).raw.detachSocket(request.raw.socket)
      socket.on('pong', onPong)
      socket.on('message', onMessage)
      socket.on('error', onError)
      socket.on('close', onClose)
      request.raw.socket.on('finish', onTcpFinish)
      // At once, so the client learns the interval now rather than one interval from now.
      if (socket.protocol === HEARTBEAT_SUBPROTOCOL) connections.write(connection, heartbeatFrame)
      if (request.tokenExpiresAt !== null) {
        // Timers cap at ~24.8 days: a longer-lived token is closed then, and the client reconnects with it.
        connection.expiry = setTimeout(expire, Math.min(request.tokenExpiresAt - Date.now(), MAX_TIMER_MS), connection)
      }
    }
  })

  /**
   * What ws would refuse in plain text or HTML, refused here in JSON like every other error. Only version 13 (RFC
   * 6455): ws also takes the draft version 8, whose browsers sent Sec-WebSocket-Origin, which the origin check does
   * not read.
   */
  function checkHandshake (headers: IncomingHttpHeaders, reply: FastifyReply): void {
    // Node hands over any Upgrade (h2c, say); this route's answer to anything but a WebSocket is that of a plain GET.
    if (headers.upgrade?.toLowerCase() !== 'websocket') plainGet(reply)
    if (headers['sec-websocket-version'] !== '13') {
      reply.header('sec-websocket-version', '13')
      throw httpError(426, 'Sec-WebSocket-Version must be 13 (RFC 6455)')
    }
    if (!/^[+/0-9A-Za-z]{22}==$/.test(headers['sec-websocket-key'] ?? '')) throw httpError(400, 'Sec-WebSocket-Key must be 16 random bytes in base64 (RFC 6455)')
    const offered = headers['sec-websocket-protocol']
    if (offered !== undefined) {
      const protocols = offered.split(',').map(protocol => protocol.replace(OPTIONAL_WHITESPACE, ''))
      if (!protocols.every(protocol => TOKEN.test(protocol)) || new Set(protocols).size !== protocols.length) {
        throw httpError(400, 'Sec-WebSocket-Protocol must be a comma-separated list of distinct tokens (RFC 6455), such as "pushwire, bearer.<token>"')
      }
    }
  }

  /**
   * A connection is logged under its upgrade's request id. One the client chose may repeat (one id for every upgrade
   * of an app), so it gets a suffix of its own; "~" is never part of a client's id.
   */
  function connectionId (requestId: string, sent: string | string[] | undefined): string {
    return sent === requestId ? `${requestId}~${randomBytes(4).toString('hex')}` : requestId
  }

  /** The answer to a request that is no WebSocket upgrade: a plain GET, or an Upgrade to something else. */
  function plainGet (reply: FastifyReply): never {
    reply.header('upgrade', 'websocket')
    throw httpError(426, 'this route needs a WebSocket upgrade, e.g. npx wscat -c ws://HOST/ws/USER')
  }

  /**
   * Upgrades past the room check whose connections are not registered yet. Several pass it in one turn (in cluster
   * mode one Redis reply confirms many upgrades' subscriptions, and each goes on in a microtask of its own), so each
   * holds its place until its connection is registered or its socket closes.
   */
  const admitted = new Map<string, number>()
  const admissions = new WeakMap<IncomingMessage, () => void>()

  function admit (request: IncomingMessage, userId: string): void {
    // Gone while Redis confirmed the subscription: its close has passed, so nothing would ever give the place back.
    if (request.socket.destroyed) throw httpError(400, 'the client hung up during the upgrade')
    checkRoom(userId)
    admitted.set(userId, (admitted.get(userId) ?? 0) + 1)
    const settle = (): void => {
      request.socket.off('close', settle)
      admissions.delete(request)
      const left = (admitted.get(userId) as number) - 1
      if (left === 0) admitted.delete(userId)
      else admitted.set(userId, left)
    }
    request.socket.once('close', settle)
    admissions.set(request, settle)
  }

  function checkRoom (userId: string): void {
    if (connections.connectionsOf(userId) + (admitted.get(userId) ?? 0) >= opts.maxConnectionsPerUser) {
      throw httpError(429, `user ${userId} already has ${opts.maxConnectionsPerUser} open connections (MAX_CONNECTIONS_PER_USER)`)
    }
  }

  function expire (connection: Connection): void {
    connections.close(connection, CLOSE.tokenExpired)
    log.info({ connId: connection.id, userId: connection.userId, code: CLOSE.tokenExpired.code }, 'token expired, connection closed')
  }

  // The ws README's heartbeat: a socket that did not answer the previous ping is dead. A socket that selected
  // "pushwire.heartbeat" also gets the heartbeat frame, for a client that cannot see pings (browsers); liveness is
  // still the pong's to prove. The sweep goes in slices (see in-slices.ts), so sends keep flowing while 10,000
  // sockets are pinged. The next sweep is timed from the end of this one, so two never overlap (a socket pinged twice
  // in a row would be taken for dead); refresh() does nothing once the timer is cleared at shutdown.
  const heartbeat: NodeJS.Timeout = setTimeout(function sweep () {
    inSlices(connections.connections(), HEARTBEAT_SLICE, checkAlive).finally(() => heartbeat.refresh())
  }, opts.heartbeatIntervalMs)

  function checkAlive (connection: Connection): void {
    if (!connection.isAlive) {
      connections.remove(connection)
      connection.socket.terminate()
      app.metrics.heartbeatTerminated()
      log.info({ connId: connection.id, userId: connection.userId, code: CLOSE.abnormal.code }, 'heartbeat missed, connection terminated')
      return
    }
    // The frame first: where writeFrame holds it (most of a slice), the ping joins it in one write at the turn's end.
    if (connection.socket.protocol === HEARTBEAT_SUBPROTOCOL) connections.write(connection, heartbeatFrame)
    connection.isAlive = false
    connection.socket.ping()
  }
  app.addHook('onClose', async () => clearTimeout(heartbeat))

  /**
   * Shutdown: close every socket with 1001; close() cuts off those that do not answer within the grace. Waits for
   * every close event, so that each is logged and counted before the process exits.
   */
  async function closeAll (): Promise<void> {
    clearTimeout(heartbeat)
    const sockets = [...connections.connections()].map(connection => {
      connections.close(connection, CLOSE.goingAway)
      return connection.socket
    })
    await Promise.all(sockets.map(closed))
  }
}

/**
 * Wraps a socket listener shared by every connection (called with the socket as `this`): a throw inside an event
 * listener never reaches Fastify's error handler and would crash the process, so it is caught and logged here instead.
 */
export function guard<A extends unknown[]> (log: FastifyBaseLogger, listener: (connection: Connection, ...args: A) => void) {
  return function (this: WebSocket, ...args: A): void {
    const connection = Connection.of(this)
    try {
      listener(connection, ...args)
    } catch (err) {
      log.error({ connId: connection.id, err }, 'ws listener failed')
    }
  }
}

function closed (socket: WebSocket): Promise<void> {
  return new Promise(resolve => socket.once('close', () => resolve()))
}

export default wsRoutes
