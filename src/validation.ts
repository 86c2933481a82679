// Turns ajv's first error into one sentence that names the field and the rule it broke,
// e.g. "body/reciever is not an allowed field" instead of "body must NOT have additional properties".
import type { FastifySchemaValidationError } from 'fastify/types/schema.js'
import { PATTERN_HINTS } from './schemas/common.js'

export function formatValidationError (errors: FastifySchemaValidationError[], dataVar: string): Error {
  // ajv runs with allErrors, in document order. An unknown field (usually a typo) is reported before the "required" it
  // caused, but only one in the first failing place or around it: a batch names its first bad item, not a later one.
  const first = errors[0] as FastifySchemaValidationError
  const error = errors.find(e => e.keyword === 'additionalProperties' && (first.instancePath + '/').startsWith(e.instancePath + '/')) ?? first
  const params = error.params as Record<string, unknown>
  const field = dataVar + error.instancePath
  let message: string
  switch (error.keyword) {
    case 'required':
      message = `${field}/${String(params.missingProperty)} is required`
      break
    case 'additionalProperties':
      message = `${field}/${String(params.additionalProperty)} is not an allowed field`
      break
    case 'pattern':
      message = `${field} ${PATTERN_HINTS[String(params.pattern)] ?? String(error.message)}`
      break
    case 'enum':
      message = `${field} must be one of ${(params.allowedValues as string[]).join(', ')}`
      break
    case 'type':
      // The query parser turns a repeated parameter into a list: the only way a query value is not a string.
      message = dataVar === 'querystring' && params.type === 'string' ? `${field} is given more than once; give it once` : `${field} ${String(error.message)}`
      break
    case 'uniqueItems':
      message = `${field} must not repeat an item (items ${Math.min(Number(params.i), Number(params.j))} and ${Math.max(Number(params.i), Number(params.j))} are the same)`
      break
    case 'minLength':
    case 'minItems':
      // ajv says "must NOT have fewer than 1 characters".
      message = params.limit === 1 ? `${field} must not be empty` : `${field} ${String(error.message).replace('NOT have', 'not have')}`
      break
    case 'maxLength':
    case 'maxItems':
      message = `${field} ${String(error.message).replace('NOT have', 'not have')}`
      break
    default:
      message = `${field} ${String(error.message)}`
  }
  return new Error(message)
}
