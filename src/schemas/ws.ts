// The WebSocket route: its parameters and the frames it pushes.
import { Type, type Static } from '@sinclair/typebox'
import { TOPIC_CHAR, USER_ID_CHAR } from '../client/names.js'
import { MessageIdSchema, TopicSchema, UserIdSchema, stringEnum } from './common.js'

/** Client frames are never needed (the channel is receive-only): ws closes with 1009 above this size … */
export const MAX_CLIENT_FRAME_BYTES = 4096
/** … and with 1008 above this many fragments of one message (ws's own default, set explicitly so it is ours). */
export const MAX_CLIENT_FRAGMENTS = 16 * 1024

export const WsParamsSchema = Type.Object({ userId: UserIdSchema })

export const WsQuerySchema = Type.Object({
  format: Type.Optional(stringEnum(['json', 'text'] as const, {
    default: 'json',
    description: 'json (default): one JSON frame per message; text: the plain line "[sender]: message"'
  })),
  topics: Type.Optional(Type.String({
    description: 'Comma-separated topic names to subscribe to, at most 32, each 1-64 characters from A-Z a-z 0-9 _ - . :',
    examples: ['news,orders-42']
  }))
}, { additionalProperties: false })

export type WsQuery = Static<typeof WsQuerySchema>
export type FrameFormat = 'json' | 'text'

const frameFields = {
  type: Type.Literal('message'),
  id: MessageIdSchema,
  sender: UserIdSchema
}
const frameTail = {
  message: Type.String({ description: 'exactly as sent' }),
  sentAt: Type.String({ format: 'date-time', description: 'ISO-8601 UTC' })
}

/** The JSON frame of a message: a direct one carries receiver, a topic one topic, a broadcast one broadcast: true. */
export const MessageFrameSchema = Type.Union([
  Type.Object({ ...frameFields, receiver: UserIdSchema, ...frameTail }, { title: 'DirectMessageFrame' }),
  Type.Object({ ...frameFields, topic: TopicSchema, ...frameTail }, { title: 'TopicMessageFrame' }),
  Type.Object({ ...frameFields, broadcast: Type.Literal(true), ...frameTail }, { title: 'BroadcastMessageFrame' })
], { title: 'MessageFrame' })

/**
 * A message with ?format=text: "[sender]: message", "[sender → #topic]: message" or "[sender → all]: message".
 * Ids and topics cannot hold "]", so the first "]: " always ends the prefix, whatever the text.
 */
export const TextLineSchema = Type.String({
  title: 'TextLine',
  pattern: `^\\[${USER_ID_CHAR}{1,64}( → #${TOPIC_CHAR}{1,64}| → all)?\\]: `,
  description: '"[sender]: message" for a direct message, "[sender → #topic]: message" for a topic, ' +
    '"[sender → all]: message" for a broadcast; the message exactly as sent'
})

/** The answer to every frame a client sends. */
export const RECEIVE_ONLY_ERROR = 'receive-only: send with POST /send-message'

export const ErrorFrameSchema = Type.Object({
  type: Type.Literal('error'),
  message: Type.String({ examples: [RECEIVE_ONLY_ERROR] })
}, { title: 'ErrorFrame' })

/**
 * Only for a connection that selected the subprotocol "pushwire.heartbeat" (in either format): once right after the
 * upgrade, then with every ping. Browsers cannot see pings; this frame lets a client tell an idle connection from a
 * dead one.
 */
export const HeartbeatFrameSchema = Type.Object({
  type: Type.Literal('heartbeat'),
  intervalMs: Type.Integer({
    minimum: 1,
    description: 'HEARTBEAT_INTERVAL_MS: the next heartbeat follows the last one by this much plus the time a sweep takes',
    examples: [30000]
  })
}, { title: 'HeartbeatFrame' })

export type HeartbeatFrame = Static<typeof HeartbeatFrameSchema>
