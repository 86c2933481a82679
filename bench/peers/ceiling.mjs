// ceiling: a bare Fastify app whose POST validates the same body and answers the same JSON, touching no socket.
import { randomUUID } from 'node:crypto'
import Fastify from 'fastify'
import { result, sendMessageBody, strictAjv } from './schema.mjs'

const app = Fastify({ logger: false, ajv: strictAjv })
app.post('/send-message', { schema: { body: sendMessageBody, response: { 200: result } } }, async () => ({ status: 'sent', id: randomUUID() }))
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' })
