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

t.test('a query parameter given twice, and a list that repeats an item, are said as such', async t => {
  // Regression: "?format=json&format=text" said "querystring/format must be string", and a repeated topic in POST
  // /tokens said ajv's "must NOT have duplicate items (items ## 1 and 0 are identical)".
  t.equal(formatValidationError([issue('type', { type: 'string' }, 'must be string')], 'querystring').message,
    'querystring/field is given more than once; give it once')
  t.equal(formatValidationError([issue('uniqueItems', { i: 2, j: 0 }, 'must NOT have duplicate items (items ## 0 and 2 are identical)')], 'body').message,
    'body/field must not repeat an item (items 0 and 2 are the same)')
})

t.test('a list or text that must not be empty says so; other lengths keep their figure', async t => {
  // Regression: "must not have fewer than 1 characters", and "fewer than 1 items".
  t.equal(formatValidationError([issue('minLength', { limit: 1 }, 'must NOT have fewer than 1 characters')], 'body').message, 'body/field must not be empty')
  t.equal(formatValidationError([issue('minItems', { limit: 1 }, 'must NOT have fewer than 1 items')], 'body').message, 'body/field must not be empty')
  t.equal(formatValidationError([issue('minLength', { limit: 3 }, 'must NOT have fewer than 3 characters')], 'body').message, 'body/field must not have fewer than 3 characters')
  t.equal(formatValidationError([issue('maxItems', { limit: 1000 }, 'must NOT have more than 1000 items')], 'body').message, 'body/field must not have more than 1000 items')
})
