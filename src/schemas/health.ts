import { Type } from '@sinclair/typebox'

export const HealthSchema = Type.Object({ status: Type.Literal('ok') })
export const ReadySchema = Type.Object({ status: Type.Literal('ready') })
