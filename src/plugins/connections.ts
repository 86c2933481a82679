// Decorates the app with its ConnectionManager (this node's sockets) and its Fanout (how a message reaches
// receivers: directly on one node, through Redis pub/sub in cluster mode), so every route shares them.
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { CLOSE } from '../close-codes.js'
import { ConnectionManager } from '../connection-manager.js'
import { StartError, type Config } from '../config.js'
import type { Fanout } from '../fanout/fanout.js'
import { LocalFanout } from '../fanout/local.js'
import { RedisFanout } from '../fanout/redis.js'
import { throttled } from '../log-throttle.js'

declare module 'fastify' {
  interface FastifyInstance {
    connections: ConnectionManager
    fanout: Fanout
  }
}

type ConnectionsOptions = Pick<Config, 'maxBufferedBytes' | 'redisUrl' | 'nodeId' | 'nodeTtlMs'> & {
  /** How long a closed socket may take to answer the close handshake before it is cut off. */
  closeGraceMs: number
}

/** Ids only, never the text, as for an offline skip. */
interface DropFields { msgId: string, sender: string, receiver?: string, topic?: string }

async function connectionsPlugin (app: FastifyInstance, opts: ConnectionsOptions): Promise<void> {
  const connections = new ConnectionManager({
    maxBufferedBytes: opts.maxBufferedBytes,
    onSlowConsumer: ({ id, userId }, queuedBytes) => {
      app.metrics.slowConsumerClosed()
      app.log.warn({ connId: id, userId, queuedBytes, code: CLOSE.slowConsumer.code }, 'slow consumer closed')
    },
    closeGraceMs: opts.closeGraceMs
  })
  app.decorate('connections', connections)

  if (opts.redisUrl === null) {
    const fanout = new LocalFanout(connections)
    app.decorate('fanout', fanout)
    app.addHook('onClose', async () => { await fanout.close() })
    return
  }
  // Every send fails while Redis is away: one line a second per kind of failure, with the count since the last.
  const reportFailure = throttled(app, (fields: { err: string }) => { app.log.warn(fields, 'redis command failed') })
  // A slow consumer's batch can drop hundreds at once: one line a second per kind, `dropped` counting since the last.
  const reportDrop = throttled(app, ({ refused, ...fields }: DropFields & { refused: number }) => {
    app.log.warn({ ...fields, dropped: refused }, 'message reached this node after its receiver left, dropped')
  })
  const fanout = new RedisFanout(connections, {
    url: opts.redisUrl,
    nodeId: opts.nodeId,
    nodeTtlMs: opts.nodeTtlMs,
    log: app.log,
    // Read when called: the metrics plugin decorates the app after this one.
    onPublished: seconds => app.metrics.redisPublished(seconds),
    onCommandFailed: message => { reportFailure(message, { err: message }) },
    onDropped: (kind, message, target) => {
      app.metrics.droppedOnArrival(kind)
      reportDrop(kind, { msgId: message.id, sender: message.sender, ...(kind === 'direct' ? { receiver: target } : { topic: target }) })
    }
  })
  app.decorate('fanout', fanout)
  app.addHook('onClose', async () => { await fanout.close() })
  // Start serving even if Redis is not up yet: /ready says 503 until it is, and ioredis keeps trying. A Redis that
  // refuses REDIS_URL is a setting to fix instead, and stops start-up like one (server.ts says it in one line).
  // (The node id is in every log line already: logger.ts binds it in cluster mode.)
  const started = await fanout.started(3000)
  if (started === 'unreachable') app.log.error('redis not reachable yet; /ready answers 503 until it is')
  else if (started === 'ready') app.log.info('cluster mode: sharing receivers through redis')
  else {
    await fanout.close()
    throw new StartError('REDIS_URL', started.refused)
  }
}

export default fp(connectionsPlugin, { name: 'connections', fastify: '5.x' })
