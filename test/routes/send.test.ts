// POST /send-message as a pure HTTP contract: every bad input and its status, answered by inject.
import t from 'tap'
import { build, LogCapture } from '../helper.js'

const valid = { sender: 'bob', receiver: 'alice', message: 'hello' }

async function send (app: Awaited<ReturnType<typeof build>>, payload: unknown, contentType = 'application/json') {
  const res = await app.inject({
    method: 'POST',
    url: '/send-message',
    headers: { 'content-type': contentType },
    payload: typeof payload === 'string' ? payload : JSON.stringify(payload)
  })
  return { status: res.statusCode, body: res.json() as Record<string, unknown> }
}

t.test('a valid body for a receiver with no connection answers offline with a UUIDv7 id', async t => {
  const app = await build(t)
  const first = await send(app, valid)
  const second = await send(app, valid)
  t.equal(first.status, 200)
  t.equal(first.body.status, 'offline')
  t.match(first.body.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  t.ok((second.body.id as string) > (first.body.id as string), 'ids sort by time')
})

t.test('schema violations are 400s that name the field and the rule', async t => {
  const app = await build(t, { maxMessageLength: 10 })
  const cases: Array<[string, unknown, string]> = [
    ['missing receiver', { sender: 'a', message: 'x' }, 'body/receiver is required'],
    ['typo in a field name', { sender: 'a', reciever: 'b', message: 'x' }, 'body/reciever is not an allowed field'],
    ['extra field', { ...valid, priority: 1 }, 'body/priority is not an allowed field'],
    ['number as message, not coerced', { ...valid, message: 123 }, 'body/message must be string'],
    ['number as receiver, not coerced', { ...valid, receiver: 42 }, 'body/receiver must be string'],
    ['empty message', { ...valid, message: '' }, 'body/message must not be empty'],
    ['blank message', { ...valid, message: ' \t\n ' }, 'body/message must contain at least one non-whitespace character'],
    // Regression: valid JSON but not text; the ?format=text line carried U+FFFD in its place, unlike the JSON frame.
    ['lone surrogate', '{"sender":"a","receiver":"b","message":"x\\ud800y"}', 'body/message must be Unicode text: it holds an unpaired surrogate (\\ud800-\\udfff)'],
    ['lone low surrogate', '{"sender":"a","receiver":"b","message":"\\udc00"}', 'body/message must be Unicode text: it holds an unpaired surrogate (\\ud800-\\udfff)'],
    ['message over MAX_MESSAGE_LENGTH', { ...valid, message: 'x'.repeat(11) }, 'body/message must not have more than 10 characters'],
    ['empty user id', { ...valid, sender: '' }, 'body/sender must not be empty'],
    ['user id too long', { ...valid, receiver: 'a'.repeat(65) }, 'body/receiver must not have more than 64 characters'],
    ['user id with a space', { ...valid, receiver: 'al ice' }, 'body/receiver must contain only A-Z a-z 0-9 _ - . @ :'],
    ['user id with a slash', { ...valid, sender: 'a/b' }, 'body/sender must contain only A-Z a-z 0-9 _ - . @ :'],
    // Regression: accepted, though no browser, curl or URL parser can reach /ws/.. (they resolve it as a path step).
    ['user id ".."', { ...valid, receiver: '..' }, 'body/receiver must not be "." or ".."'],
    ['user id "."', { ...valid, sender: '.' }, 'body/sender must not be "." or ".."'],
    ['array body', [valid], 'body must be object'],
    ['null body', 'null', 'body must be object']
  ]
  for (const [name, payload, message] of cases) {
    const res = await send(app, payload)
    t.same(res, { status: 400, body: { statusCode: 400, error: 'Bad Request', message } }, name)
  }
})

t.test('limits count characters, not bytes: 10 emoji fit a 10-character limit', async t => {
  const app = await build(t, { maxMessageLength: 10 })
  t.equal((await send(app, { ...valid, message: '🎉'.repeat(10) })).status, 200)
  t.equal((await send(app, '{"sender":"a","receiver":"b","message":"\\ud83c\\udf89 escaped"}')).status, 200, 'an escaped pair is one character')
  t.equal((await send(app, { ...valid, message: '안녕하세요 세계' })).status, 200)
  t.equal((await send(app, { ...valid, sender: 'bob.smith@example.com:1_-' })).status, 200)
})

t.test('malformed JSON is a 400', async t => {
  const app = await build(t)
  const res = await send(app, '{"sender":')
  t.equal(res.status, 400)
  t.equal(res.body.error, 'Bad Request')
  t.match(res.body.message, /JSON/)
  const empty = await send(app, '')
  t.equal(empty.status, 400)
})

t.test('a body over BODY_LIMIT is a 413', async t => {
  const app = await build(t, { bodyLimit: 1024, maxMessageLength: 100_000 })
  const res = await send(app, { ...valid, message: 'x'.repeat(2000) })
  // It names the limit and the setting (it said only "Request body is too large").
  t.same(res, { status: 413, body: { statusCode: 413, error: 'Payload Too Large', message: 'the body is over 1024 bytes (BODY_LIMIT)' } })
})

t.test('a content type that is not JSON is a 415 that says what to send', async t => {
  const app = await build(t)
  const text = await send(app, 'hello', 'text/plain')
  t.same(text, { status: 415, body: { statusCode: 415, error: 'Unsupported Media Type', message: 'Content-Type must be application/json (got "text/plain")' } })
  const form = await send(app, 'a=b', 'application/x-www-form-urlencoded')
  t.equal(form.status, 415)
  const none = await app.inject({ method: 'POST', url: '/send-message', payload: Buffer.from('{}') })
  t.equal(none.statusCode, 415)
  t.equal(none.json().message, 'Content-Type must be application/json (got none)')
  t.equal((await send(app, valid, 'application/json; charset=utf-8')).status, 200)
})

t.test('unknown routes are JSON 404s that do not echo the query string', async t => {
  const app = await build(t)
  const res = await app.inject({ method: 'GET', url: '/nope?secret=x' })
  t.equal(res.statusCode, 404)
  t.same(res.json(), { statusCode: 404, error: 'Not Found', message: 'Route GET /nope not found' })
})

t.test('a known path with the wrong method is a 405 that lists the methods it takes (RFC 9110), not a 404', async t => {
  const app = await build(t)
  const get = await app.inject({ method: 'GET', url: '/send-message?secret=x' })
  t.equal(get.statusCode, 405)
  t.equal(get.headers.allow, 'POST, OPTIONS', 'OPTIONS: CORS answers it on every path')
  t.same(get.json(), { statusCode: 405, error: 'Method Not Allowed', message: 'GET is not allowed on /send-message: it takes POST' })
  // A parametric route, and one whose GET brings HEAD along.
  const post = await app.inject({ method: 'DELETE', url: '/presence/alice' })
  t.equal(post.statusCode, 405)
  t.equal(post.headers.allow, 'GET, HEAD, OPTIONS')
  t.equal(post.json().message, 'DELETE is not allowed on /presence/alice: it takes GET or HEAD')
  // An unknown path stays a 404 whatever the method.
  t.equal((await app.inject({ method: 'PUT', url: '/nope' })).statusCode, 404)
  t.equal((await app.inject({ method: 'OPTIONS', url: '/nope' })).statusCode, 204, 'CORS answers OPTIONS everywhere')
})

t.test('an unexpected failure is a generic 500, logged in full, with no details for the client', async t => {
  const logs = new LogCapture()
  const app = await build(t, {}, logs)
  // The only way to force a server fault without touching src/: a receiver index that throws.
  app.connections.send = () => { throw new Error('internal detail: index corrupted') }
  const res = await send(app, valid)
  t.same(res, { status: 500, body: { statusCode: 500, error: 'Internal Server Error', message: 'Internal Server Error' } })
  const line = logs.find('request failed')
  t.equal(line?.url, '/send-message')
  t.match((line?.err as { message: string }).message, 'internal detail')
})
