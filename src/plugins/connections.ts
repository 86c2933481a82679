// Decorates the app with its ConnectionManager, so every route talks to the same registry.
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { ConnectionManager } from '../connection-manager.js'

declare module 'fastify' {
  interface FastifyInstance {
    connections: ConnectionManager
  }
}

async function connectionsPlugin (app: FastifyInstance, opts: { maxBufferedBytes: number }): Promise<void> {
  const connections = new ConnectionManager({
    maxBufferedBytes: opts.maxBufferedBytes,
    onSlowConsumer: ({ id, userId, socket }) => {
      app.log.warn({ connId: id, userId, bufferedBytes: socket.bufferedAmount, code: 1013 }, 'slow consumer closed')
    }
  })
  app.decorate('connections', connections)
}

export default fp(connectionsPlugin, { name: 'connections', fastify: '5.x' })
