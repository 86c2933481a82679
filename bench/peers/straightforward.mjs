// straightforward: what a competent first version looks like. Fastify + @fastify/websocket, a Map of user id
// to a Set of sockets, JSON frames, the same validation.
import { randomUUID } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import Fastify from 'fastify'
import websocket from '@fastify/websocket'
import { broadcastBody, result, sendMessageBody, strictAjv } from './schema.mjs'

/** The whole peer as an unstarted app, so bench/http-path.mjs can run it in its own process too. */
export async function buildStraightforward () {
  const app = Fastify({ logger: false, ajv: strictAjv })
  await app.register(websocket)
  const users = new Map()

  app.get('/ws/:userId', { websocket: true }, (socket, request) => {
    const { userId } = request.params
    let sockets = users.get(userId)
    if (sockets === undefined) users.set(userId, (sockets = new Set()))
    sockets.add(socket)
    socket.on('close', () => {
      sockets.delete(socket)
      if (sockets.size === 0) users.delete(userId)
    })
  })

  app.post('/send-message', { schema: { body: sendMessageBody, response: { 200: result } } }, async (request) => {
    const { sender, receiver, message } = request.body
    const id = randomUUID()
    const sockets = users.get(receiver)
    if (sockets === undefined) return { status: 'offline', id }
    const frame = JSON.stringify({ type: 'message', id, sender, receiver, message, sentAt: new Date().toISOString() })
    for (const socket of sockets) socket.send(frame)
    return { status: 'sent', id }
  })

  app.post('/broadcast', { schema: { body: broadcastBody, response: { 200: result } } }, async (request) => {
    const { sender, message } = request.body
    const id = randomUUID()
    const frame = JSON.stringify({ type: 'message', id, sender, broadcast: true, message, sentAt: new Date().toISOString() })
    for (const sockets of users.values()) for (const socket of sockets) socket.send(frame)
    return { status: users.size > 0 ? 'sent' : 'offline', id }
  })

  return app
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const app = await buildStraightforward()
  await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' })
}
