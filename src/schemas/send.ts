// Bodies and answers of the send routes: /send-message, /publish and /broadcast.
import { Type, type Static } from '@sinclair/typebox'
import { MessageIdSchema, TopicSchema, UserIdSchema, messageTextSchema } from './common.js'

export const sendMessageBodySchema = (maxLength: number) => Type.Object({
  sender: UserIdSchema,
  receiver: UserIdSchema,
  message: messageTextSchema(maxLength)
}, { additionalProperties: false, title: 'SendMessage' })

export const publishBodySchema = (maxLength: number) => Type.Object({
  sender: UserIdSchema,
  topic: TopicSchema,
  message: messageTextSchema(maxLength)
}, { additionalProperties: false, title: 'Publish' })

export const broadcastBodySchema = (maxLength: number) => Type.Object({
  sender: UserIdSchema,
  message: messageTextSchema(maxLength)
}, { additionalProperties: false, title: 'Broadcast' })

export const SendResultSchema = Type.Object({
  status: Type.Union([Type.Literal('sent'), Type.Literal('offline')], {
    description: '"sent": written to at least one open connection; "offline": nobody was connected, so the message was dropped'
  }),
  id: MessageIdSchema
}, { title: 'SendResult', description: 'The message was accepted; status tells whether anyone was connected to receive it.' })

export type SendResult = Static<typeof SendResultSchema>

export const MAX_BATCH = 1000

export const sendBatchBodySchema = (maxLength: number) => Type.Object({
  messages: Type.Array(sendMessageBodySchema(maxLength), { minItems: 1, maxItems: MAX_BATCH })
}, { additionalProperties: false, title: 'SendBatch' })

export const SendBatchResultSchema = Type.Object({
  results: Type.Array(SendResultSchema, { description: 'one result per message, in request order' })
}, { title: 'SendBatchResult' })
