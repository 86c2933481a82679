import { once } from 'node:events'
import { connect as tcpConnect } from 'node:net'
import Fastify, { type FastifyServerOptions } from 'fastify'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { defaultConfig } from '../../src/config.js'
import errorHandler, { errorBody, frameworkError } from '../../src/plugins/error-handler.js'
import { listen, LogCapture, post, rawExchange, refusedUpgrade, until } from '../helper.js'

t.test('errorBody names the status, with a generic name for unnamed codes', async t => {
  t.same(errorBody(429, 'slow down'), { statusCode: 429, error: 'Too Many Requests', message: 'slow down' })
  t.same(errorBody(499, 'gone'), { statusCode: 499, error: 'Error', message: 'gone' })
})

t.test('buildApp without options gives a ready, non-listening app', async t => {
  const app = await buildApp(defaultConfig)
  t.teardown(() => app.close())
  t.equal((await app.inject('/health')).statusCode, 200)
  t.equal(app.server.listening, false, 'ready, not listening')
})

t.test('a URL with a broken percent-escape gets the usual JSON error and its request id', async t => {
  const logs = new LogCapture()
  const server = await listen(t, {}, logs)
  const res = await fetch(`${server.url}/presence/%ZZ`, { headers: { 'x-request-id': 'trace-7' } })
  t.equal(res.status, 400)
  t.match(logs.find('request refused'), { reqId: 'trace-7', statusCode: 400, route: 'unmatched' }, 'logged like every 4xx')
  t.equal(res.headers.get('x-request-id'), 'trace-7')
  t.match(res.headers.get('content-type'), /^application\/json; charset=utf-8/)
  t.same(await res.json(), { statusCode: 400, error: 'Bad Request', message: "'/presence/%ZZ' is not a valid URL: every % must begin a percent-encoded UTF-8 byte, such as %20 or %C3%A9" })
  // The same for an invalid UTF-8 escape, on a route of every kind.
  const ws = await fetch(`${server.url}/ws/%FF`)
  t.equal(ws.status, 400)
  t.match(await ws.json(), { statusCode: 400, error: 'Bad Request' })
  // A path segment over Fastify's maxParamLength (100): no user id is that long.
  const long = await fetch(`${server.url}/presence/${'a'.repeat(101)}`)
  // A 400 like any other invalid user id (the core contract), not a 414 that no document lists.
  t.equal(long.status, 400)
  t.not(long.headers.get('x-request-id'), null)
  // It names the limit, and does not echo the whole URL back (it was "'/presence/aaa…' is exceeding the max param length").
  t.same(await long.json(), { statusCode: 400, error: 'Bad Request', message: 'a path segment is longer than 100 characters (a user id is at most 64)' })
  const upgrade = await refusedUpgrade(server, `/ws/${'a'.repeat(101)}`)
  t.equal(upgrade.status, 400, 'the upgrade too')
})

t.test('requests Node itself would refuse with no body, or drop, are answered in JSON: no Host, CONNECT', async t => {
  // Regression: HTTP/1.1 without Host got Node's 400 with an empty body; CONNECT had its connection dropped unanswered.
  const server = await listen(t)
  const json = (answer: string) => JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as unknown
  const noHost = await rawExchange(t, server, 'GET /health HTTP/1.1\r\nX-Request-Id: no-host-1\r\nConnection: close\r\n\r\n')
  t.match(noHost, /^HTTP\/1\.1 400 .*\r\nx-request-id: no-host-1\r\n/s)
  t.same(json(noHost), { statusCode: 400, error: 'Bad Request', message: 'the Host header is required in HTTP/1.1 (RFC 9112)' })
  t.match(await rawExchange(t, server, 'GET /health HTTP/1.0\r\n\r\n'), /^HTTP\/1\.1 200 /, 'HTTP/1.0 has no Host to require')
  const tunnel = await rawExchange(t, server, 'CONNECT localhost:80 HTTP/1.1\r\nHost: localhost:80\r\n\r\n')
  t.match(tunnel, /^HTTP\/1\.1 405 Method Not Allowed\r\n.*x-request-id: [0-9a-f-]{36}\r\n/s)
  t.same(json(tunnel), { statusCode: 405, error: 'Method Not Allowed', message: 'CONNECT is not allowed: this server is no proxy' })
  // Regression: an Expect other than 100-continue got Node's 417 with an empty body, no request id, and no log line.
  const expectation = await rawExchange(t, server, 'POST /send-message HTTP/1.1\r\nHost: x\r\nExpect: foo\r\nX-Request-Id: expect-1\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}')
  t.match(expectation, /^HTTP\/1\.1 417 .*\r\nx-request-id: expect-1\r\n/s)
  t.same(json(expectation), { statusCode: 417, error: 'Expectation Failed', message: 'the Expect header "foo" cannot be met: only 100-continue can' })
  t.match(await rawExchange(t, server, 'GET /health HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n'), /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /, '100-continue is met')

  // A client that never ends its side must not keep the socket, outside every timeout, and hold up the shutdown.
  const { port } = new URL(server.url)
  const halfOpen = tcpConnect({ port: Number(port), host: '127.0.0.1', allowHalfOpen: true })
  t.teardown(() => halfOpen.destroy())
  halfOpen.write('CONNECT localhost:80 HTTP/1.1\r\nHost: localhost:80\r\n\r\n')
  halfOpen.resume()
  await once(halfOpen, 'end')
  const open = async () => await new Promise<number>((resolve, reject) => server.app.server.getConnections((err, n) => { if (err === null) resolve(n); else reject(err) }))
  await until(async () => await open() === 0, 'the server closed its side of the half-open socket', { timeoutMs: 2000 })
})

t.test('a framework error without a message of its own goes to the error handler: a failed async route constraint is a plain 500', async t => {
  const logs = new LogCapture()
  const app = Fastify({ frameworkErrors: frameworkError, logger: { stream: logs }, constraints: { tenant: failingConstraint() } })
  await app.register(errorHandler)
  app.get('/tenant', { constraints: { tenant: 'a' } }, async () => 'never')
  t.teardown(() => app.close())
  const res = await app.inject('/tenant')
  t.same([res.statusCode, res.json()], [500, { statusCode: 500, error: 'Internal Server Error', message: 'Internal Server Error' }])
  t.ok(logs.find('request failed'), 'and it is logged')
})

/**
 * A route constraint whose asynchronous lookup fails, which Fastify reports as FST_ERR_ASYNC_CONSTRAINT. (find-my-way's
 * types know only the synchronous form, hence the cast.)
 */
function failingConstraint (): NonNullable<FastifyServerOptions['constraints']>[string] {
  const routes = new Map<unknown, unknown>()
  return {
    name: 'tenant',
    storage: () => ({ get: (key: unknown) => routes.get(key) ?? null, set: (key: unknown, handler: unknown) => { routes.set(key, handler) } }),
    validate: () => {},
    deriveConstraint: (_request: unknown, _context: unknown, done: (err: Error) => void) => { done(new Error('tenant lookup failed')) },
    mustMatchWhenDerived: true
  } as unknown as NonNullable<FastifyServerOptions['constraints']>[string]
}

t.test('refused requests are logged with their ids, a line a second at most per status, and never with a credential', async t => {
  // Regression: no 4xx was logged at all, so a client quoting the X-Request-Id of its 401 left nothing to grep, and a
  // client retrying a bad key in a loop went unseen.
  const logs = new LogCapture()
  const server = await listen(t, { apiKeys: ['k'.repeat(32)] }, logs)
  const refusals = () => logs.lines.filter(line => line.msg === 'request refused')
  const badKey = { authorization: `Bearer ${'x'.repeat(32)}` }
  const first = await post(server, '/send-message', { sender: 'a', receiver: 'b', message: 'secret text' }, badKey)
  t.equal(first.status, 401)
  t.match(refusals(), [{ level: 30, statusCode: 401, method: 'POST', route: '/send-message', ip: '127.0.0.1', reqId: first.headers.get('x-request-id'), refused: 1 }])
  // A flood of them is counted, not written line by line, and the next line names the last of them.
  const more = await Promise.all(Array.from({ length: 4 }, async () => await post(server, '/send-message', { sender: 'a', receiver: 'b', message: 'x' }, badKey)))
  t.equal(refusals().length, 1)
  await until(() => refusals().length === 2, 'the count is logged when the second is up')
  t.match(refusals()[1], { statusCode: 401, refused: 4 })
  t.ok(more.some(res => res.headers.get('x-request-id') === refusals()[1]?.reqId), 'with the id of one of them')
  // Another status has a count of its own, so a flood of one does not hide the other.
  const invalid = await post(server, '/send-message', { sender: 'a' }, { authorization: `Bearer ${'k'.repeat(32)}` })
  t.equal(invalid.status, 400)
  const missing = await fetch(`${server.url}/no/such/route?token=abc`)
  t.equal(missing.status, 404)
  t.match(refusals().slice(2), [
    { statusCode: 400, route: '/send-message', reqId: invalid.headers.get('x-request-id'), refused: 1 },
    { statusCode: 404, method: 'GET', route: 'unmatched', refused: 1 }
  ])
  t.notOk(logs.raw.some(line => /x{32}|k{32}|secret text|token=abc/.test(line)), 'no key, text or query string in any line')
})

t.test('refusals still counted at shutdown are written then', async t => {
  // Regression: they were never written, and the id a client quotes might be among them.
  const logs = new LogCapture()
  const server = await listen(t, {}, logs)
  for (let i = 0; i < 3; i++) await fetch(`${server.url}/no/such/route`)
  const refusals = () => logs.lines.filter(line => line.msg === 'request refused')
  t.match(refusals(), [{ refused: 1 }], 'one at once, two counted')
  await server.app.close()
  t.match(refusals(), [{ refused: 1 }, { refused: 2 }], 'written at shutdown')
})

t.test('a request Node cannot parse is answered in JSON that says what is wrong, with a request id, and logged', async t => {
  // Regression: Fastify's answers said only "Client Error", had no request id or CORS header, and were not logged.
  const logs = new LogCapture()
  const server = await listen(t, {}, logs)
  const cases: Array<[string, number, string]> = [
    ['GARBAGE /health HTTP/1.1\r\n\r\n', 400, 'malformed HTTP request: Invalid method encountered'],
    ['GET /health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n', 400, 'malformed HTTP request: Invalid header token'],
    ['GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n', 400, 'malformed HTTP request: Duplicate Content-Length'],
    [`GET /health HTTP/1.1\r\nHost: x\r\nOrigin: https://page.example.com\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'the request line and headers are over 16384 bytes']
  ]
  for (const [request, statusCode, message] of cases) {
    const answer = await rawExchange(t, server, request)
    const [head = '', body = ''] = answer.split('\r\n\r\n')
    t.match(head, new RegExp(`^HTTP/1\\.1 ${statusCode} `), message)
    t.match(head, /\r\ncontent-type: application\/json; charset=utf-8\r\n/)
    t.match(head, /\r\nx-request-id: [0-9a-f-]{36}\r\n/)
    t.match(head, /\r\naccess-control-allow-origin: \*\r\n/, 'open mode: any page may read it')
    t.match(head, /\r\nconnection: close/)
    t.same(JSON.parse(body), errorBody(statusCode, message))
  }
  await until(() => logs.lines.filter(line => line.msg === 'request refused').length === 2, 'logged: one 400 at once, one 431')
  t.match(logs.lines.filter(line => line.msg === 'request refused'), [
    { statusCode: 400, method: '-', route: 'unmatched', ip: '127.0.0.1', reqId: String },
    { statusCode: 431 }
  ])
  // With a list of origins the headers are not read, so no page is allowed.
  const listed = await listen(t, { allowedOrigins: ['https://page.example.com'] })
  t.notMatch(await rawExchange(t, listed, 'GARBAGE\r\n\r\n'), /access-control-allow-origin/i)
})

t.test('a client that resets its connection mid-request gets nothing written and nothing logged', async t => {
  const logs = new LogCapture()
  const server = await listen(t, {}, logs)
  const { port } = new URL(server.url)
  const socket = tcpConnect(Number(port), '127.0.0.1')
  await once(socket, 'connect')
  socket.write('POST /send-message HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{')
  const open = async () => await new Promise<number>((resolve, reject) => server.app.server.getConnections((err, n) => { if (err === null) resolve(n); else reject(err) }))
  await until(async () => await open() === 1, 'the server has the connection')
  socket.resetAndDestroy()
  await until(async () => await open() === 0, 'the server let go of it')
  t.same(logs.lines.filter(line => line.msg === 'request refused'), [])
})
