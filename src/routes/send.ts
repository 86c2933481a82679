// The send routes: validate, push to every open connection of the target, answer sent or offline.
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { OutgoingMessage } from '../message.js'
import { ErrorSchema } from '../schemas/common.js'
import { SendBatchResultSchema, SendResultSchema, broadcastBodySchema, publishBodySchema, sendBatchBodySchema, sendMessageBodySchema, type SendResult } from '../schemas/send.js'

const responses = { 200: SendResultSchema, 400: ErrorSchema, 401: ErrorSchema, 408: ErrorSchema, 413: ErrorSchema, 415: ErrorSchema, 429: ErrorSchema, 503: ErrorSchema }
const security = [{ apiKey: [] }]

/** Counts the message; when nobody took it, logs the ids (never the text) and says so. */
function answer (request: FastifyRequest, reply: FastifyReply, outgoing: OutgoingMessage, written: number): SendResult {
  const { target } = outgoing
  const status = written > 0 ? 'sent' : 'offline'
  request.server.metrics.message(target.kind, status, reply.elapsedTime / 1000)
  if (status === 'sent') return { status, id: outgoing.id }
  const to = target.kind === 'direct' ? { receiver: target.receiver } : target.kind === 'topic' ? { topic: target.topic } : { broadcast: true }
  request.log.info({ msgId: outgoing.id, sender: outgoing.sender, ...to }, 'offline, message dropped')
  return { status, id: outgoing.id }
}

/**
 * Answers at once when delivery was synchronous (one node), so the send path makes no promise and waits no extra
 * tick; a cluster's delivery is a promise, answered when it settles.
 */
function settle<T, R> (reply: FastifyReply, delivered: T | Promise<T>, toAnswer: (delivered: T) => R): Promise<R> | undefined {
  if (delivered instanceof Promise) return delivered.then(toAnswer)
  reply.send(toAnswer(delivered))
}

const sendRoutes: FastifyPluginAsyncTypebox<{ maxMessageLength: number, batchBodyLimit: number }> = async (app, opts) => {
  const { fanout } = app

  app.post('/send-message', {
    schema: {
      summary: 'Push a message to every open connection of one user',
      tags: ['send'],
      security,
      body: sendMessageBodySchema(opts.maxMessageLength),
      response: responses
    }
  }, (request, reply) => {
    const { sender, receiver, message } = request.body
    const outgoing = new OutgoingMessage(sender, message, { kind: 'direct', receiver })
    return settle(reply, fanout.send(receiver, outgoing), written => answer(request, reply, outgoing, written))
  })

  // One request for up to 1000 direct messages: past the HTTP stack's request rate. Validated whole first, so an
  // invalid item (named by its index) rejects the request before anything is sent.
  app.post('/send-batch', {
    bodyLimit: opts.batchBodyLimit,
    config: { bodyLimitSetting: 'BATCH_BODY_LIMIT' },
    schema: {
      summary: 'Push up to 1000 direct messages in one request',
      tags: ['send'],
      security,
      body: sendBatchBodySchema(opts.maxMessageLength),
      response: { ...responses, 200: SendBatchResultSchema }
    }
  }, (request, reply) => {
    const items = request.body.messages.map(({ sender, receiver, message }) => [receiver, new OutgoingMessage(sender, message, { kind: 'direct', receiver })] as const)
    return settle(reply, fanout.sendMany(items), written => ({ results: items.map(([, message], i) => answer(request, reply, message, written[i] as number)) }))
  })

  app.post('/publish', {
    schema: {
      summary: 'Push a message to every open connection subscribed to a topic',
      tags: ['send'],
      security,
      body: publishBodySchema(opts.maxMessageLength),
      response: responses
    }
  }, (request, reply) => {
    const { sender, topic, message } = request.body
    const outgoing = new OutgoingMessage(sender, message, { kind: 'topic', topic })
    return settle(reply, fanout.publish(topic, outgoing), written => answer(request, reply, outgoing, written))
  })

  app.post('/broadcast', {
    schema: {
      summary: 'Push a message to every open connection',
      tags: ['send'],
      security,
      body: broadcastBodySchema(opts.maxMessageLength),
      response: responses
    }
  }, (request, reply) => {
    const { sender, message } = request.body
    const outgoing = new OutgoingMessage(sender, message, { kind: 'broadcast' })
    return settle(reply, fanout.broadcast(outgoing), written => answer(request, reply, outgoing, written))
  })
}

export default sendRoutes
