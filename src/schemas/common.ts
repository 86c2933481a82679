// Shapes shared by every route: ids, topic names, message text and the one error body.
import { Type, type SchemaOptions } from '@sinclair/typebox'
import { NAME_MAX_LENGTH, NO_PATH_STEP_PATTERN, TOPIC_PATTERN, TOPIC_RULE, USER_ID_CHARS_PATTERN, USER_ID_RULE } from '../client/names.js'

export const NON_BLANK_PATTERN = '\\S'
/** No unpaired UTF-16 surrogate (ajv compiles patterns with the u flag, where a proper pair is one code point). */
export const WELL_FORMED_PATTERN = '^[^\\uD800-\\uDFFF]*$'

export const UserIdSchema = Type.String({
  minLength: 1,
  maxLength: NAME_MAX_LENGTH,
  pattern: USER_ID_CHARS_PATTERN,
  // A rule of its own, so that its error says what is wrong with "..".
  allOf: [{ pattern: NO_PATH_STEP_PATTERN }],
  description: USER_ID_RULE,
  examples: ['alice']
})

export const TopicSchema = Type.String({
  minLength: 1,
  maxLength: NAME_MAX_LENGTH,
  pattern: TOPIC_PATTERN,
  description: TOPIC_RULE,
  examples: ['news']
})

/**
 * Message text: pushed exactly as sent; the limit counts Unicode code points. JSON can spell an unpaired surrogate
 * ("\\ud800"), which no UTF-8 text frame can carry, so it is refused rather than altered on the way out.
 */
export const messageTextSchema = (maxLength: number) => Type.String({
  minLength: 1,
  maxLength,
  pattern: NON_BLANK_PATTERN,
  allOf: [{ pattern: WELL_FORMED_PATTERN }],
  description: `1-${maxLength} characters (code points), at least one of them not whitespace; any Unicode text, without unpaired surrogates (the patterns are read with the u flag, where a surrogate pair is one character)`,
  examples: ['hello from curl']
})

export const MessageIdSchema = Type.String({
  format: 'uuid',
  description: 'UUIDv7: unique per message and sortable by time'
})

export const ErrorSchema = Type.Object({
  statusCode: Type.Integer({ examples: [400] }),
  error: Type.String({ examples: ['Bad Request'] }),
  message: Type.String({ examples: ['body/receiver is required'] })
}, { title: 'Error', description: 'Every error answer has this shape.' })

/** Readable hints for our patterns, used by the validation error formatter. */
export const PATTERN_HINTS: Record<string, string> = {
  [USER_ID_CHARS_PATTERN]: 'must contain only A-Z a-z 0-9 _ - . @ :',
  [NO_PATH_STEP_PATTERN]: 'must not be "." or ".."',
  [TOPIC_PATTERN]: 'must contain only A-Z a-z 0-9 _ - . :',
  [NON_BLANK_PATTERN]: 'must contain at least one non-whitespace character',
  [WELL_FORMED_PATTERN]: 'must be Unicode text: it holds an unpaired surrogate (\\ud800-\\udfff)',
  [`${TOPIC_PATTERN}|^\\*$`]: 'must be "*" or contain only A-Z a-z 0-9 _ - . :'
}

/** A string from a fixed list, as a plain JSON Schema enum (clearer errors and docs than a union of literals). */
export const stringEnum = <T extends string>(values: readonly T[], options: SchemaOptions = {}) =>
  Type.Unsafe<T>({ ...options, type: 'string', enum: values })
