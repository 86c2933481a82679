// POST /send-message: validate, push to every open connection of the receiver, answer sent or offline.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { OutgoingMessage } from '../message.js'
import { ErrorSchema } from '../schemas/common.js'
import { SendResultSchema, sendMessageBodySchema } from '../schemas/send.js'

const errors = { 400: ErrorSchema, 413: ErrorSchema, 415: ErrorSchema }

const sendRoutes: FastifyPluginAsyncTypebox<{ maxMessageLength: number }> = async (app, opts) => {
  app.post('/send-message', {
    schema: {
      summary: 'Push a message to every open connection of one user',
      tags: ['send'],
      body: sendMessageBodySchema(opts.maxMessageLength),
      response: { 200: SendResultSchema, ...errors }
    }
  }, async (request) => {
    const { sender, receiver, message } = request.body
    const outgoing = new OutgoingMessage(sender, message, { kind: 'direct', receiver })
    if (app.connections.send(receiver, outgoing) > 0) return { status: 'sent' as const, id: outgoing.id }
    request.log.info({ msgId: outgoing.id, sender, receiver }, 'receiver offline, message dropped')
    return { status: 'offline' as const, id: outgoing.id }
  })
}

export default sendRoutes
