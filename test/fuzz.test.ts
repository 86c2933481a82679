// Thousands of generated malformed requests at every HTTP route and at the upgrade, in auth mode:
// every answer is a JSON 4xx (or a 2xx for valid input), never a 5xx, a hang or a crash,
// and a receiver connected throughout still gets the next valid message.
import t from 'tap'
import fc from 'fast-check'
import WebSocket from 'ws'
import { SignJWT } from 'jose'
import { connect, listen, post, type Server } from './helper.js'

const KEY = 'fuzz-publisher-key-0123456789'
const SECRET = 'fuzz-receiver-secret-0123456789abcdef'
const ORIGIN = 'https://app.example.com'
const secretKey = new TextEncoder().encode(SECRET)

const printable = fc.string({ unit: fc.constantFrom(...' !"#$%&\'()*+,-./0123456789:;<=>?@ABCXYZ[\\]^_`abcxyz{|}~'.split('')), maxLength: 40 })
const tokenChars = fc.string({ unit: fc.constantFrom(...'abcXYZ019-_.!#$%&\'*+^`|~'.split('')), minLength: 1, maxLength: 30 })
const validish = fc.constantFrom('alice', 'bob', 'news', 'a.b@c:d', '')
const anyValue = fc.oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 3 }), validish, fc.string({ minLength: 1001, maxLength: 1100 }))

const body = fc.oneof(
  fc.jsonValue().map(v => JSON.stringify(v)),
  fc.record({ sender: anyValue, receiver: anyValue, message: anyValue }, { requiredKeys: [] }).map(v => JSON.stringify(v)),
  fc.record({ sender: anyValue, topic: anyValue, message: anyValue, extra: anyValue }, { requiredKeys: [] }).map(v => JSON.stringify(v)),
  fc.record({ userId: anyValue, topics: anyValue, ttlSeconds: anyValue }, { requiredKeys: [] }).map(v => JSON.stringify(v)),
  printable,
  fc.constant('{"sender":"a","receiver":"b","message":"hi"'),
  fc.constant('')
)

const httpRequest = fc.record({
  method: fc.constantFrom('GET', 'POST', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'),
  path: fc.oneof(
    fc.constantFrom('/send-message', '/publish', '/broadcast', '/tokens', '/health', '/ready', '/stats', '/openapi.json', '/asyncapi.json', '/presence/alice', '/ws/alice'),
    printable.map(s => `/${encodeURIComponent(s)}`),
    printable.map(s => `/presence/${encodeURIComponent(s)}`),
    fc.tuple(fc.constantFrom('/send-message', '/publish', '/tokens'), printable).map(([p, q]) => `${p}?${encodeURIComponent(q)}=${encodeURIComponent(q)}`)
  ),
  contentType: fc.option(fc.oneof(fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data', 'application/json; charset=latin1', 'application/jsonx'), printable)),
  authorization: fc.option(fc.oneof(fc.constant(`Bearer ${KEY}`), printable, printable.map(s => `Bearer ${s}`))),
  origin: fc.option(fc.oneof(fc.constant(ORIGIN), printable)),
  body
})

type HttpRequest = typeof httpRequest extends fc.Arbitrary<infer T> ? T : never

async function httpCall (server: Server, req: HttpRequest): Promise<void> {
  const headers: Record<string, string> = {}
  if (req.contentType !== null) headers['content-type'] = req.contentType
  if (req.authorization !== null) headers.authorization = req.authorization
  if (req.origin !== null) headers.origin = req.origin
  const withBody = req.method !== 'GET'
  const res = await fetch(server.url + req.path, { method: req.method, headers, body: withBody ? req.body : undefined, signal: AbortSignal.timeout(5000) })
  const text = await res.text()
  if (res.status >= 500) throw new Error(`${res.status} for ${JSON.stringify(req)}: ${text}`)
  if (res.status >= 400) {
    const parsed = JSON.parse(text) as { statusCode: number, error: string, message: string }
    if (parsed.statusCode !== res.status || typeof parsed.error !== 'string' || typeof parsed.message !== 'string') {
      throw new Error(`bad error body for ${JSON.stringify(req)}: ${text}`)
    }
    if (/\bat .*\(.*:\d+:\d+\)/.test(text)) throw new Error(`stack trace in ${text}`)
  }
}

t.test('generated HTTP requests and upgrades never get a 5xx, a hang or a crash', async t => {
  const server = await listen(t, { apiKeys: [KEY], jwtSecret: SECRET, allowedOrigins: [ORIGIN] })
  const now = Math.floor(Date.now() / 1000)
  const sign = (sub: string, exp: number | null, alg = 'HS256', topics?: unknown) => {
    let jwt = new SignJWT(topics === undefined ? {} : { topics }).setProtectedHeader({ alg }).setSubject(sub)
    if (exp !== null) jwt = jwt.setExpirationTime(exp)
    return jwt.sign(secretKey)
  }
  const good = await sign('alice', now + 3600)
  const tokens = [
    good,
    await sign('alice', now - 60),
    await sign('alice', null),
    await sign('alice', now + 3600, 'HS384'),
    await sign('bob', now + 3600),
    await sign('alice', now + 3600, 'HS256', ['news']),
    await sign('alice', now + 3600, 'HS256', 'news'),
    `${good.slice(0, -3)}abc`,
    `${Buffer.from('{"alg":"none"}').toString('base64url')}.${good.split('.')[1] as string}.`,
    'x.y.z'
  ]
  const listener = await connect(t, server, '/ws/alice', { headers: { authorization: `Bearer ${good}` } })

  await fc.assert(fc.asyncProperty(httpRequest, req => httpCall(server, req)), { numRuns: 2000 })

  const upgrade = fc.record({
    userId: fc.oneof(fc.constantFrom('alice', 'bob'), printable.map(encodeURIComponent)),
    query: fc.oneof(fc.constant(''), fc.constantFrom('?topics=news', '?topics=news,admin', '?format=text', '?format=xml', `?token=${good}`, `?access_token=${good}`, '?topics=a%20b'), printable.map(s => `?${encodeURIComponent(s)}`)),
    token: fc.option(fc.constantFrom(...tokens)),
    via: fc.constantFrom('header', 'subprotocol'),
    origin: fc.option(fc.oneof(fc.constant(ORIGIN), fc.constant('https://evil.example.com'), printable)),
    protocols: fc.array(tokenChars, { maxLength: 3 })
  })
  await fc.assert(fc.asyncProperty(upgrade, async u => {
    const protocols = [...new Set(u.protocols)]
    const options: WebSocket.ClientOptions = { handshakeTimeout: 5000 }
    if (u.origin !== null) options.origin = u.origin
    if (u.token !== null && u.via === 'header') options.headers = { authorization: `Bearer ${u.token}` }
    if (u.token !== null && u.via === 'subprotocol') protocols.push('pushwire', `bearer.${u.token}`)
    const ws = new WebSocket(`${server.wsUrl}/ws/${u.userId}${u.query}`, [...new Set(protocols)], options)
    await new Promise<void>((resolve, reject) => {
      ws.on('open', () => { ws.terminate(); resolve() })
      ws.on('unexpected-response', (_req, res) => {
        let text = ''
        res.on('data', (chunk: Buffer) => { text += chunk.toString() })
        res.on('end', () => {
          const status = res.statusCode as number
          if (status >= 500 || JSON.parse(text).statusCode !== status) reject(new Error(`${status} ${text} for ${JSON.stringify(u)}`))
          else resolve()
        })
      })
      // The server accepted, but the client refuses a 101 without one of the subprotocols it offered.
      ws.on('error', err => { if (/Server sent no subprotocol/.test(err.message)) resolve(); else reject(err) })
    })
  }), { numRuns: 500 })

  t.equal(listener.ws.readyState, WebSocket.OPEN, 'the listener stayed connected')
  const res = await post(server, '/send-message', { sender: 'bob', receiver: 'alice', message: 'still alive' }, { authorization: `Bearer ${KEY}` })
  t.equal(res.body.status, 'sent')
  // The fuzzed sends to alice arrive first; the valid one after them must be there too.
  let frame: Record<string, unknown>
  do frame = await listener.nextJson(); while (frame.message !== 'still alive')
  t.equal(frame.id, res.body.id)
})

t.test('the same in open mode, where valid input is a 2xx', async t => {
  const server = await listen(t)
  const listener = await connect(t, server, '/ws/alice')
  await fc.assert(fc.asyncProperty(httpRequest, req => httpCall(server, req)), { numRuns: 800 })
  const res = await post(server, '/send-message', { sender: 'bob', receiver: 'alice', message: 'open and alive' })
  let frame: Record<string, unknown>
  do frame = await listener.nextJson(); while (frame.message !== 'open and alive')
  t.equal(frame.id, res.body.id)
})
