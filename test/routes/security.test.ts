// Auth mode end to end: publisher keys, receiver tokens in header and subprotocol, origins, expiry, limits.
import { once } from 'node:events'
import t from 'tap'
import WebSocket from 'ws'
import { SignJWT } from 'jose'
import { connect, listen, LogCapture, post, refusedUpgrade, until, type Overrides, type Server } from '../helper.js'

const KEY = 'publisher-key-0123456789abcdef'
const OLD_KEY = 'rotated-out-key-0123456789abcdef'
const SECRET = 'receiver-token-secret-0123456789abcdef'
const ORIGIN = 'https://app.example.com'
const secure: Overrides = { apiKeys: [KEY, OLD_KEY], jwtSecret: SECRET, allowedOrigins: [ORIGIN] }
const auth = (key = KEY) => ({ authorization: `Bearer ${key}` })

async function mint (server: Server, body: Record<string, unknown>): Promise<string> {
  const res = await post(server, '/tokens', body, auth())
  return res.body.token as string
}

t.test('every POST route needs a valid API key: 401 with WWW-Authenticate otherwise', async t => {
  const server = await listen(t, secure)
  const routes: Array<[string, object]> = [
    ['/send-message', { sender: 'a', receiver: 'b', message: 'x' }],
    ['/publish', { sender: 'a', topic: 'n', message: 'x' }],
    ['/broadcast', { sender: 'a', message: 'x' }],
    ['/tokens', { userId: 'a' }]
  ]
  for (const [path, body] of routes) {
    const missing = await post(server, path, body)
    t.same([missing.status, missing.body.message], [401, 'an API key is required: send "Authorization: Bearer <key>"'], `${path} without a key`)
    t.equal(missing.headers.get('www-authenticate'), 'Bearer realm="pushwire"')
    const malformed = await post(server, path, body, { authorization: `Basic ${KEY}` })
    t.same([malformed.status, malformed.body.message], [401, 'the Authorization header must be "Bearer <key>"'])
    const wrong = await post(server, path, body, auth('x'.repeat(30)))
    t.same([wrong.status, wrong.body.message], [401, 'the API key is not valid'])
    t.equal(wrong.headers.get('www-authenticate'), 'Bearer realm="pushwire", error="invalid_token"')
    t.equal((await post(server, path, body, auth())).status, 200, `${path} with the current key`)
    t.equal((await post(server, path, body, auth(OLD_KEY))).status, 200, `${path} with the rotated key`)
  }
  t.equal((await fetch(`${server.url}/stats`)).status, 200, 'aggregate counts stay open, like /health')
})

t.test('whether a user is online is told only to a publisher: GET /presence needs the API key, with no rate limit', async t => {
  // Regression: anyone who could reach the port could watch any user come and go.
  const server = await listen(t, { ...secure, rateLimitPerMinute: 1 })
  const missing = await fetch(`${server.url}/presence/alice`)
  t.equal(missing.status, 401)
  t.equal(missing.headers.get('www-authenticate'), 'Bearer realm="pushwire"')
  t.same(await missing.json(), { statusCode: 401, error: 'Unauthorized', message: 'an API key is required: send "Authorization: Bearer <key>"' })
  t.equal((await fetch(`${server.url}/presence/alice`, { headers: auth('x'.repeat(30)) })).status, 401)
  t.equal((await fetch(`${server.url}/presence/alice?api_key=${KEY}`)).status, 400, 'a key in the URL is refused, as on every POST')
  for (let i = 0; i < 3; i++) {
    const res = await fetch(`${server.url}/presence/alice`, { headers: auth(OLD_KEY) })
    t.same([res.status, await res.json()], [200, { userId: 'alice', online: false, connections: 0 }], 'reads do not spend the send budget')
  }
})

t.test('POST /tokens mints tokens with a default and a maximum lifetime', async t => {
  const server = await listen(t, secure)
  const before = Date.now()
  const res = await post(server, '/tokens', { userId: 'alice' }, auth())
  t.equal(res.status, 200)
  t.same(Object.keys(res.body), ['token', 'expiresAt'])
  const ttl = (Date.parse(res.body.expiresAt as string) - before) / 1000
  t.ok(ttl > 3590 && ttl <= 3601, `defaults to 3600 s (got ${ttl})`)
  // Regression: exp was rounded down to the second, so ttlSeconds 1 gave a token that expired after 68-924 ms.
  for (let i = 0; i < 5; i++) {
    const issued = Date.now()
    const short = await post(server, '/tokens', { userId: 'alice', ttlSeconds: 1 }, auth())
    t.ok(Date.parse(short.body.expiresAt as string) - issued >= 1000, 'a token lives at least ttlSeconds')
  }
  t.equal((await post(server, '/tokens', { userId: 'alice', ttlSeconds: 86400, topics: ['news', '*'] }, auth())).status, 200)
  const bad: Array<[object, string]> = [
    [{ userId: 'alice', ttlSeconds: 86401 }, 'body/ttlSeconds must be <= 86400'],
    [{ userId: 'alice', ttlSeconds: 0 }, 'body/ttlSeconds must be >= 1'],
    [{ userId: 'alice', ttlSeconds: '60' }, 'body/ttlSeconds must be integer'],
    [{ userId: 'alice', topics: ['bad topic'] }, 'body/topics/0 must be "*" or contain only A-Z a-z 0-9 _ - . :'],
    [{ userId: 'alice', topics: 'news' }, 'body/topics must be array'],
    [{ userId: 'alice', topics: ['news', 'sport', 'news'] }, 'body/topics must not repeat an item (items 0 and 2 are the same)'],
    [{ user: 'alice' }, 'body/user is not an allowed field']
  ]
  for (const [body, message] of bad) t.same((await post(server, '/tokens', body, auth())).body.message, message)
})

t.test('POST /tokens is a 404 with a reason when the server has no JWT_SECRET', async t => {
  const server = await listen(t, { apiKeys: [KEY] })
  const res = await post(server, '/tokens', { userId: 'alice' }, auth())
  t.same(res.body, { statusCode: 404, error: 'Not Found', message: 'receiver tokens are off: the server has no JWT_SECRET' })
})

t.test('a receiver token travels in the Authorization header or in the subprotocol list', async t => {
  const server = await listen(t, secure)
  const token = await mint(server, { userId: 'alice' })
  const wscat = await connect(t, server, '/ws/alice', { headers: { authorization: `Bearer ${token}` } })
  const browser = await connect(t, server, '/ws/alice', { protocolVersion: 13 }, ['pushwire', `bearer.${token}`])
  t.equal(browser.ws.protocol, 'pushwire', 'the server selects "pushwire"')
  await post(server, '/send-message', { sender: 'bob', receiver: 'alice', message: 'hi' }, auth())
  t.equal((await wscat.nextJson()).message, 'hi')
  t.equal((await browser.nextJson()).message, 'hi')
})

t.test('upgrades without a good token are refused before the 101', async t => {
  const server = await listen(t, secure)
  const key = new TextEncoder().encode(SECRET)
  const expired = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('alice').setExpirationTime(Math.floor(Date.now() / 1000) - 5).sign(key)
  const noExp = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('alice').sign(key)
  const bobs = await mint(server, { userId: 'bob' })
  const newsOnly = await mint(server, { userId: 'alice', topics: ['news'] })
  const anyTopic = await mint(server, { userId: 'alice', topics: ['*'] })
  const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } })
  const cases: Array<[string, string, WebSocket.ClientOptions, number, RegExp]> = [
    ['no token', '/ws/alice', {}, 401, /a receiver token is required/],
    ['expired', '/ws/alice', bearer(expired), 401, /^token expired$/],
    ['no exp', '/ws/alice', bearer(noExp), 401, /exp claim/],
    ['another user\'s token', '/ws/alice', bearer(bobs), 401, /sub does not match/],
    ['garbage', '/ws/alice', bearer('x.y.z'), 401, /malformed/],
    // Regression: these said a token was required, though one was sent.
    ['another scheme', '/ws/alice', { headers: { authorization: 'Basic YWxpY2U6cHc=' } }, 401, /^the Authorization header must be "Bearer <token>"/],
    ['a token and more', '/ws/alice', { headers: { authorization: `Bearer ${bobs} extra` } }, 401, /^the Authorization header must be "Bearer <token>"/],
    ['a topic the token does not allow', '/ws/alice?topics=news,admin', bearer(newsOnly), 403, /does not allow topic "admin"/]
  ]
  for (const [name, path, options, status, message] of cases) {
    const res = await refusedUpgrade(server, path, options)
    t.equal(res.status, status, name)
    t.match(res.body.message, message, name)
  }
  await connect(t, server, '/ws/alice?topics=news', bearer(newsOnly))
  // A page behind HTTP basic auth: the browser adds its Authorization header, and the token rides in the subprotocols.
  await connect(t, server, '/ws/alice?topics=news', { headers: { authorization: 'Basic YWxpY2U6cHc=' } }, ['pushwire', `bearer.${newsOnly}`])
  await connect(t, server, '/ws/alice?topics=anything,else', bearer(anyTopic))
  t.equal(server.app.connections.connectionsOf('alice'), 3)
  t.equal((await refusedUpgrade(server, '/ws/not%20valid', bearer(bobs))).status, 400, 'a bad user id is still a 400')
})

t.test('tokens in the URL are refused with a 400 that says how to send them, and never logged', async t => {
  const logs = new LogCapture()
  const server = await listen(t, secure, logs)
  const token = await mint(server, { userId: 'alice' })
  for (const name of ['token', 'access_token']) {
    const res = await refusedUpgrade(server, `/ws/alice?${name}=${token}`)
    t.equal(res.status, 400)
    t.match(res.body.message, /credentials in the URL are refused.*Authorization: Bearer <token>.*\["pushwire", "bearer\." \+ token\]/)
  }
  const postWithKey = await fetch(`${server.url}/send-message?api_key=${KEY}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
  t.equal(postWithKey.status, 400)
  t.notOk(logs.raw.some(line => line.includes(token) || line.includes(KEY)), 'neither the token nor the key reached the logs')
})

t.test('upgrades from an Origin not on ALLOWED_ORIGINS get 403; no Origin (non-browser) is fine', async t => {
  const server = await listen(t, { allowedOrigins: [ORIGIN] })
  const res = await refusedUpgrade(server, '/ws/alice', { origin: 'https://evil.example.com' })
  t.same(res, { status: 403, body: { statusCode: 403, error: 'Forbidden', message: 'origin "https://evil.example.com" is not allowed (ALLOWED_ORIGINS)' } })
  // Regression: a 6 KB Origin was quoted whole, in the answer and in the log line's reason.
  const long = `https://${'a'.repeat(6000)}.example.com`
  const longRes = await refusedUpgrade(server, '/ws/alice', { origin: long })
  t.same([longRes.status, longRes.body.message], [403, `origin "https://${'a'.repeat(92)}…" is not allowed (ALLOWED_ORIGINS)`])
  await connect(t, server, '/ws/alice', { origin: ORIGIN })
  await connect(t, server, '/ws/alice')
  t.equal(server.app.connections.connectionsOf('alice'), 2)
})

t.test('a connection is closed with 4001 "token expired" when its token expires', async t => {
  const logs = new LogCapture()
  const server = await listen(t, secure, logs)
  // exp is whole seconds: 3 s of lifetime leaves at least 2 s to connect, even on a loaded machine.
  const token = await mint(server, { userId: 'alice', ttlSeconds: 3 })
  const long = await mint(server, { userId: 'alice', ttlSeconds: 3600 })
  const client = await connect(t, server, '/ws/alice', { headers: { authorization: `Bearer ${token}` } })
  const other = await connect(t, server, '/ws/alice', { headers: { authorization: `Bearer ${long}` } })
  t.same(await client.closed, { code: 4001, reason: 'token expired' })
  t.match(logs.find('token expired, connection closed'), { userId: 'alice', code: 4001 })
  t.equal(server.app.connections.connectionsOf('alice'), 1)
  t.equal(other.ws.readyState, WebSocket.OPEN)
})

t.test('POST rate limit: 429 with Retry-After, a budget per API key', async t => {
  const server = await listen(t, { ...secure, rateLimitPerMinute: 3 })
  const body = { sender: 'a', receiver: 'b', message: 'x' }
  for (let i = 0; i < 3; i++) t.equal((await post(server, '/send-message', body, auth())).status, 200)
  const limited = await post(server, '/send-message', body, auth())
  t.equal(limited.status, 429)
  t.match(limited.body, { statusCode: 429, error: 'Too Many Requests', message: /rate limit of 3 requests per minute exceeded/ })
  t.match(limited.headers.get('retry-after'), /^[1-9]\d*$/, 'Retry-After is set, in whole seconds')
  t.equal((await post(server, '/send-message', body, auth(OLD_KEY))).status, 200, 'the other key has its own budget')
})

t.test('open mode rate-limits POSTs per IP', async t => {
  const server = await listen(t, { rateLimitPerMinute: 1 })
  const body = { sender: 'a', message: 'x' }
  t.equal((await post(server, '/broadcast', body)).status, 200)
  t.equal((await post(server, '/broadcast', body)).status, 429)
})

t.test('upgrade rate limit: 429 with Retry-After per IP', async t => {
  const server = await listen(t, { upgradeRatePerMinute: 2 })
  await connect(t, server, '/ws/a')
  await connect(t, server, '/ws/b')
  const ws = new WebSocket(`${server.wsUrl}/ws/c`)
  ws.on('error', () => {})
  const [, res] = await once(ws, 'unexpected-response') as [unknown, { statusCode: number, headers: Record<string, string> }]
  t.equal(res.statusCode, 429)
  // Whole seconds, the only form the client library (and RFC 9110's delay-seconds) reads.
  t.match(res.headers['retry-after'], /^[1-9]\d*$/)
})

t.test('behind a trusted proxy the limits count the client address it forwards, and only then', async t => {
  // Regression: X-Forwarded-For was never read, so behind a load balancer every client shared its one address and
  // the per-IP limits refused most of them after a fleet reconnected.
  const upgrade = async (server: Server, forwardedFor: string): Promise<number> => {
    const ws = new WebSocket(`${server.wsUrl}/ws/u${Math.random()}`, { headers: { 'x-forwarded-for': forwardedFor } })
    t.teardown(() => ws.terminate())
    ws.on('error', () => {})
    const [first] = await Promise.race([once(ws, 'open'), once(ws, 'unexpected-response').then(([, res]) => [res])]) as [{ statusCode: number } | undefined]
    return first?.statusCode ?? 101
  }
  const proxied = await listen(t, { upgradeRatePerMinute: 2, trustProxy: ['127.0.0.1'] })
  t.same([await upgrade(proxied, '2.2.2.2'), await upgrade(proxied, '2.2.2.2'), await upgrade(proxied, '2.2.2.2')], [101, 101, 429])
  t.equal(await upgrade(proxied, '3.3.3.3'), 101, 'another client behind the same proxy has its own budget')
  const open = await listen(t, { rateLimitPerMinute: 1, trustProxy: ['loopback'] })
  const body = { sender: 'a', receiver: 'b', message: 'x' }
  t.equal((await post(open, '/send-message', body, { 'x-forwarded-for': '4.4.4.4' })).status, 200)
  t.equal((await post(open, '/send-message', body, { 'x-forwarded-for': '5.5.5.5' })).status, 200, 'open mode counts per forwarded client')
  // Not trusted by default: a client cannot pick its own address to dodge the limit.
  const direct = await listen(t, { upgradeRatePerMinute: 2 })
  t.same([await upgrade(direct, '6.6.6.6'), await upgrade(direct, '7.7.7.7'), await upgrade(direct, '8.8.8.8')], [101, 101, 429])
})

t.test('auth-mode logs carry no API key, token or message text', async t => {
  const logs = new LogCapture()
  const server = await listen(t, secure, logs)
  const token = await mint(server, { userId: 'alice' })
  const alice = await connect(t, server, '/ws/alice', { headers: { authorization: `Bearer ${token}` } }, ['pushwire', `bearer.${token}`])
  await post(server, '/send-message', { sender: 'b', receiver: 'alice', message: 'private words' }, auth())
  await alice.nextJson()
  await post(server, '/send-message', { sender: 'b', receiver: 'nobody', message: 'private words' }, auth())
  await post(server, '/send-message', { sender: 'b', receiver: 'nobody', message: 'x' }, auth('wrong-key-wrong-key-wrong-key'))
  alice.ws.close()
  await alice.closed
  t.ok(logs.lines.length >= 3, 'something was logged')
  for (const secret of [KEY, token, 'private words', 'wrong-key']) {
    t.notOk(logs.raw.some(line => line.includes(secret)), `no ${secret.slice(0, 12)}… in the logs`)
  }
})

t.test('start-up says which part of auth is off, once', async t => {
  const cases: Array<[Overrides, string | null]> = [
    [{}, 'auth is off: anyone can send as anyone and listen as anyone; to turn it on, set API_KEYS and JWT_SECRET and leave AUTH unset (README: Security)'],
    [{ jwtSecret: SECRET }, 'API_KEYS is not set: anyone can publish and mint receiver tokens'],
    [{ apiKeys: [KEY] }, 'JWT_SECRET is not set: anyone can listen as any user'],
    [{ apiKeys: [KEY], jwtSecret: SECRET }, null]
  ]
  for (const [overrides, expected] of cases) {
    const logs = new LogCapture()
    const server = await listen(t, overrides, logs)
    const warnings = logs.lines.filter(line => line.level === 40).map(line => line.msg)
    t.same(warnings, expected === null ? [] : [expected])
    await server.app.close()
  }
})

t.test('open mode refuses tokens in the URL too: a URL is never the place for a credential', async t => {
  const server = await listen(t)
  const res = await refusedUpgrade(server, '/ws/alice?access_token=abc')
  t.equal(res.status, 400)
  t.match(res.body.message, /credentials in the URL are refused/)
  await connect(t, server, '/ws/alice')
  t.equal(server.app.connections.connectionsOf('alice'), 1, 'without one, open mode needs no token')
})

t.test('an auth refusal is logged with its reason, never with the key or token', async t => {
  // Regression: the line said only "statusCode":401, so an operator could not tell a wrong key from an expired token.
  const logs = new LogCapture()
  const server = await listen(t, secure, logs)
  const wrongKey = 'y'.repeat(30)
  t.equal((await post(server, '/send-message', { sender: 'a', receiver: 'b', message: 'x' }, auth(wrongKey))).status, 401)
  const newsOnly = await mint(server, { userId: 'alice', topics: ['news'] })
  t.equal((await refusedUpgrade(server, '/ws/alice?topics=admin', { headers: { authorization: `Bearer ${newsOnly}` } })).status, 403)
  const refusals = logs.lines.filter(line => line.msg === 'request refused')
  t.match(refusals, [
    { statusCode: 401, route: '/send-message', reason: 'the API key is not valid' },
    { statusCode: 403, route: '/ws/:userId', reason: 'token does not allow topic "admin"' }
  ])
  t.notMatch(logs.raw.join('\n'), wrongKey)
  t.notMatch(logs.raw.join('\n'), newsOnly)
  // Other refusals give no reason: a 400's message may quote what the client sent.
  t.equal((await post(server, '/send-message', { sender: 'a', receiver: 'b' }, auth())).status, 400)
  const invalid = logs.lines.find(line => line.msg === 'request refused' && line.statusCode === 400)
  t.ok(invalid !== undefined && !('reason' in invalid), JSON.stringify(invalid))
})

t.test('a connection closed for its expired token that does not answer the close is cut off after the close grace', async t => {
  // Regression: only a slow consumer had the cut-off; ws held any other unanswered close (here a 4001) for 30 s.
  const logs = new LogCapture()
  const server = await listen(t, { ...secure, shutdownTimeoutMs: 400 }, logs)
  const token = await mint(server, { userId: 'alice', ttlSeconds: 3 })
  const client = await connect(t, server, '/ws/alice', { headers: { authorization: `Bearer ${token}` } })
  // A client gone quiet (a partition, a frozen tab): it never reads, so it never answers the close frame.
  ;(client.ws as unknown as { _socket: { pause: () => void } })._socket.pause()
  await until(() => logs.find('token expired, connection closed') !== undefined, 'the token expires', { timeoutMs: 10_000 })
  await until(() => logs.find('ws closed') !== undefined, 'the socket is cut off', { timeoutMs: 5000 })
  t.match(logs.find('ws closed'), { userId: 'alice', code: 4001 })
})
