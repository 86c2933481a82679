import { Type, type Static } from '@sinclair/typebox'
import { TOPIC_PATTERN } from '../client/names.js'
import { UserIdSchema } from './common.js'

export const MAX_TOKEN_TTL_SECONDS = 86_400

export const MintTokenBodySchema = Type.Object({
  userId: UserIdSchema,
  topics: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64, pattern: `${TOPIC_PATTERN}|^\\*$` }), {
    maxItems: 32,
    uniqueItems: true,
    description: 'Topics the receiver may subscribe to; "*" allows any. Without it, any topic is allowed.'
  })),
  ttlSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_TOKEN_TTL_SECONDS, default: 3600 }))
}, { additionalProperties: false, title: 'MintToken' })

export type MintTokenBody = Static<typeof MintTokenBodySchema>

export const MintedTokenSchema = Type.Object({
  token: Type.String({ description: 'HS256 JWT with sub, exp and, if asked for, topics' }),
  expiresAt: Type.String({ format: 'date-time' })
}, { title: 'MintedToken' })
