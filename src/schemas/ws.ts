// The WebSocket route: its parameters and the frames it pushes.
import { Type, type Static } from '@sinclair/typebox'
import { MessageIdSchema, UserIdSchema, stringEnum } from './common.js'

export const WsParamsSchema = Type.Object({ userId: UserIdSchema })

export const WsQuerySchema = Type.Object({
  format: Type.Optional(stringEnum(['json', 'text'] as const, {
    default: 'json',
    description: 'json (default): one JSON frame per message; text: the plain line "[sender]: message"'
  }))
}, { additionalProperties: false })

export type WsQuery = Static<typeof WsQuerySchema>
export type FrameFormat = 'json' | 'text'

export const MessageFrameSchema = Type.Object({
  type: Type.Literal('message'),
  id: MessageIdSchema,
  sender: UserIdSchema,
  receiver: UserIdSchema,
  message: Type.String(),
  sentAt: Type.String({ format: 'date-time', description: 'ISO-8601 UTC' })
}, { title: 'MessageFrame' })

export const ErrorFrameSchema = Type.Object({
  type: Type.Literal('error'),
  message: Type.String()
}, { title: 'ErrorFrame' })
