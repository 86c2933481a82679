import t from 'tap'
import { formatValidationError } from '../src/validation.js'

const issue = (keyword: string, params: Record<string, unknown>, message = 'fails') =>
  ({ keyword, params, message, instancePath: '/field', schemaPath: '#' })

t.test('each ajv keyword becomes a sentence naming the field', async t => {
  t.equal(formatValidationError([issue('required', { missingProperty: 'x' })], 'body').message, 'body/field/x is required')
  t.equal(formatValidationError([issue('pattern', { pattern: '^a$' }, 'must match pattern "^a$"')], 'body').message,
    'body/field must match pattern "^a$"', 'a pattern without a hint keeps ajv\'s wording')
  t.equal(formatValidationError([issue('type', { type: 'string' }, 'must be string')], 'params').message, 'params/field must be string')
  t.equal(formatValidationError([
    issue('required', { missingProperty: 'receiver' }),
    issue('additionalProperties', { additionalProperty: 'reciever' })
  ], 'body').message, 'body/field/reciever is not an allowed field', 'an unknown field is named before the missing one')
})
