import { Type } from '@sinclair/typebox'
import { UserIdSchema } from './common.js'

export const PresenceSchema = Type.Object({
  userId: UserIdSchema,
  online: Type.Boolean(),
  connections: Type.Integer({ minimum: 0, description: 'open WebSocket connections of this user' })
}, { title: 'Presence' })

export const StatsSchema = Type.Object({
  users: Type.Integer({ minimum: 0, description: 'users with at least one open connection' }),
  connections: Type.Integer({ minimum: 0, description: 'open WebSocket connections' }),
  topics: Type.Integer({ minimum: 0, description: 'topics held by at least one open connection' }),
  node: Type.Optional(Type.String({ description: 'cluster mode: the id of the node that answered' })),
  nodes: Type.Optional(Type.Integer({ minimum: 0, description: 'cluster mode: nodes alive in the cluster' }))
}, { title: 'Stats' })
