// socketio: what most Node teams reach for. Socket.IO 4 (WebSocket transport only) with a room per user; the
// HTTP POST route does io.to(receiver).emit(...), answering sent/offline from the room's size.
import { randomUUID } from 'node:crypto'
import Fastify from 'fastify'
import { Server } from 'socket.io'
import { broadcastBody, result, sendMessageBody, strictAjv } from './schema.mjs'

const app = Fastify({ logger: false, ajv: strictAjv })
const io = new Server(app.server, { transports: ['websocket'], serveClient: false, perMessageDeflate: false })
io.on('connection', socket => {
  socket.join(String(socket.handshake.query.userId))
  for (const topic of String(socket.handshake.query.topics ?? '').split(',').filter(Boolean)) socket.join(`#${topic}`)
})

app.post('/send-message', { schema: { body: sendMessageBody, response: { 200: result } } }, async (request) => {
  const { sender, receiver, message } = request.body
  const id = randomUUID()
  if ((io.sockets.adapter.rooms.get(receiver)?.size ?? 0) === 0) return { status: 'offline', id }
  io.to(receiver).emit('message', { type: 'message', id, sender, receiver, message, sentAt: new Date().toISOString() })
  return { status: 'sent', id }
})

app.post('/broadcast', { schema: { body: broadcastBody, response: { 200: result } } }, async (request) => {
  const { sender, message } = request.body
  const id = randomUUID()
  io.emit('message', { type: 'message', id, sender, broadcast: true, message, sentAt: new Date().toISOString() })
  return { status: io.engine.clientsCount > 0 ? 'sent' : 'offline', id }
})

app.post('/publish', async (request) => {
  const { sender, topic, message } = request.body
  const id = randomUUID()
  io.to(`#${topic}`).emit('message', { type: 'message', id, sender, topic, message, sentAt: new Date().toISOString() })
  return { status: 'sent', id }
})

await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' })
