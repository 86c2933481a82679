// ceiling-plus-frame: not a service, a lower bound. The ceiling's route plus the least a server can do to deliver
// a message: find the receiver's socket and write one WebSocket frame to it, header and JSON built by hand, in one
// `write` straight to the TCP socket (no ws Sender, no backpressure, one socket per user, nothing held).
// Its requests/s against the ceiling's, in the same run, is how close to the ceiling any server that writes a
// frame per message can come on this machine.
import { randomUUID } from 'node:crypto'
import Fastify from 'fastify'
import { WebSocketServer } from 'ws'
import { result, sendMessageBody, strictAjv } from './schema.mjs'

const app = Fastify({ logger: false, ajv: strictAjv })
const sockets = new Map()
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false })
app.server.on('upgrade', (request, socket, head) => {
  const userId = request.url.slice('/ws/'.length)
  wss.handleUpgrade(request, socket, head, ws => {
    sockets.set(userId, ws._socket)
    ws.on('close', () => sockets.delete(userId))
  })
})

/** An unmasked text frame (FIN, opcode 1) with a 7- or 16-bit length: every frame here is under 64 KiB. */
function textFrame (text) {
  const payload = Buffer.from(text)
  const header = payload.length < 126 ? [0x81, payload.length] : [0x81, 126, payload.length >> 8, payload.length & 0xff]
  return Buffer.concat([Buffer.from(header), payload])
}

app.post('/send-message', { schema: { body: sendMessageBody, response: { 200: result } } }, async (request) => {
  const { sender, receiver, message } = request.body
  const id = randomUUID()
  const socket = sockets.get(receiver)
  if (socket === undefined) return { status: 'offline', id }
  socket.write(textFrame(JSON.stringify({ type: 'message', id, sender, receiver, message, sentAt: new Date().toISOString() })))
  return { status: 'sent', id }
})
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' })
