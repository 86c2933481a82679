// The client against a bare ws server that closes each connection the way a test scripts it.
import { once } from 'node:events'
import { createServer } from 'node:http'
import t from 'tap'
import type { MessageFrame } from '../../src/client/index.js'
import { fast, start } from './recorder.js'
import { scripted } from './scripted.js'
import { until } from '../helper.js'

const frame = (id: string): string => JSON.stringify({ type: 'message', id, sender: 'bob', receiver: 'alice', message: `m-${id}`, sentAt: new Date().toISOString() })

for (const [code, how] of [[1000, 'a normal close'], [1001, 'going away'], [1011, 'a server error'], [1012, 'a restart'], [1013, 'try again later']] as const) {
  t.test(`reconnects after ${code} (${how})`, async t => {
    const server = await scripted(t, [socket => socket.close(code, how)])
    const { client, events } = start(t, server.url)
    t.same(await events.nth('close', 1), { code, reason: how, willReconnect: true })
    const reconnecting = await events.nth('reconnecting', 1)
    t.equal(reconnecting.code, code)
    t.ok(reconnecting.delayMs >= 0 && reconnecting.delayMs < fast.initialDelayMs, 'first delay under the initial ceiling')
    t.same(await events.nth('open', 2), { attempt: 1 })
    t.equal(client.state, 'open')
    t.equal(server.connections(), 2)
  })
}

t.test('reconnects after 1006: the connection vanished without a close frame', async t => {
  const server = await scripted(t, [socket => socket.terminate()])
  const { events } = start(t, server.url)
  t.equal((await events.nth('close', 1)).code, 1006)
  await events.nth('open', 2)
  t.same(events.names(), ['open', 'close', 'reconnecting', 'open'])
})

t.test('stops for good after 1008 and other codes a retry cannot fix', async t => {
  for (const code of [1008, 1003, 4000]) {
    const server = await scripted(t, [socket => socket.close(code, 'policy')])
    const { client, events } = start(t, server.url)
    const error = await events.nth('error', 1)
    t.equal(error.fatal, true)
    t.equal(error.code, code)
    t.match(error.message, `closed with ${code} (policy): not reconnecting`)
    t.same(await events.nth('close', 1), { code, reason: error.message, willReconnect: false })
    t.equal(client.state, 'closed')
    t.equal(events.count('reconnecting'), 0)
  }
})

t.test('4001: fetches a fresh token through getToken, then reconnects with it in the subprotocol', async t => {
  const server = await scripted(t, [socket => socket.close(4001, 'token expired')])
  let issued = 0
  const { events } = start(t, server.url, { token: 'first', getToken: () => `fresh-${++issued}` })
  t.same(await events.nth('close', 1), { code: 4001, reason: 'token expired', willReconnect: true })
  await events.nth('open', 2)
  t.equal(issued, 1, 'one refresh')
  t.same(server.offered, ['pushwire.heartbeat,pushwire,bearer.first', 'pushwire.heartbeat,pushwire,bearer.fresh-1'])
})

t.test('4001 without getToken: gives up with an error that says why', async t => {
  const server = await scripted(t, [socket => socket.close(4001, 'token expired')])
  const { client, events } = start(t, server.url, { token: 'first' })
  const error = await events.nth('error', 1)
  t.equal(error.fatal, true)
  t.match(error.message, /fresh token is needed and there is no getToken/)
  t.equal((await events.nth('close', 1)).willReconnect, false)
  t.equal(client.state, 'closed')
})

t.test('getToken is asked before the first connect when no token is given, and a failing getToken is retried', async t => {
  const server = await scripted(t, [])
  let calls = 0
  const { events } = start(t, server.url, {
    getToken: async () => {
      if (++calls === 1) throw new Error('auth service down')
      return 'from-getToken'
    }
  })
  const error = await events.nth('error', 1)
  t.equal(error.fatal, false)
  t.equal(error.message, 'getToken failed: auth service down')
  await events.nth('open', 1)
  t.same(events.names(), ['error', 'reconnecting', 'open'])
  t.same(server.offered, ['pushwire.heartbeat,pushwire,bearer.from-getToken'])
})

t.test('a getToken that gives no token is an error and retried; a token ending in a newline is trimmed', async t => {
  // Regression: undefined was sent as the token "undefined" and refused in a loop without an error event, and the
  // README's getToken, a backend's text() with its newline, could not even open a WebSocket.
  const server = await scripted(t, [])
  const answers: unknown[] = [undefined, '  \n', 'from-backend\n']
  const { events } = start(t, server.url, { getToken: async () => answers.shift() as string })
  t.same([(await events.nth('error', 1)).message, (await events.nth('error', 2)).message], [
    'getToken failed: expected a token, got undefined',
    'getToken failed: expected a token, got blank text'
  ])
  await events.nth('open', 1)
  t.same(server.offered, ['pushwire.heartbeat,pushwire,bearer.from-backend'])
  const given = start(t, server.url, { token: ' given\n' })
  await given.events.nth('open', 1)
  t.same(server.offered.slice(1), ['pushwire.heartbeat,pushwire,bearer.given'])
})

t.test('a message repeated across a reconnect is delivered once', async t => {
  const server = await scripted(t, [
    socket => { socket.send(frame('a')); socket.send(frame('b')); socket.close(1001) },
    socket => { socket.send(frame('b')); socket.send(frame('c')) }
  ])
  const { events } = start(t, server.url)
  const ids = []
  for (let n = 1; n <= 3; n++) ids.push((await events.nth('message', n) as MessageFrame).id)
  t.same(ids, ['a', 'b', 'c'])
  // c arrived after the repeated b, so b has been dropped, not delayed.
  t.equal(events.count('message'), 3)
})

t.test('error frames, non-JSON frames and unknown frame types', async t => {
  const server = await scripted(t, [socket => {
    socket.send('{"type":"error","message":"receive-only: send with POST /send-message"}')
    socket.send('not json')
    socket.send('{"type":"presence-v2","id":"x"}')
    // Regression: the JSON frame null threw from the socket's listener, an uncaught exception that ended the process.
    for (const other of ['null', '42', '"text"', '[1]', 'true']) socket.send(other)
    socket.send('{"type":"error"}')
    socket.send(frame('after'))
  }])
  const { events } = start(t, server.url)
  t.equal((await events.nth('message', 1) as MessageFrame).id, 'after')
  const errors = events.log.filter(([name]) => name === 'error').map(([, e]) => e as Error & { fatal: boolean })
  t.same(errors.map(e => [e.message, e.fatal]), [
    ['server: receive-only: send with POST /send-message', false],
    ['the server sent a frame that is not JSON', false],
    // Regression: it said "server: undefined".
    ['the server sent an error frame without a message', false]
  ], 'the unknown type is ignored')
})

t.test('a connection that stays open resets the backoff', async t => {
  const server = await scripted(t, [
    socket => socket.close(1013),
    socket => { setTimeout(() => socket.close(1001), 150) }
  ])
  const { events } = start(t, server.url, { stableAfterMs: 30 })
  t.equal((await events.nth('reconnecting', 1)).attempt, 1)
  t.same(await events.nth('open', 2), { attempt: 1 }, 'opened after one failed attempt')
  t.equal((await events.nth('reconnecting', 2)).attempt, 1, 'counted from zero again')
})

t.test('an unreachable server is retried with growing delays, each under the cap', async t => {
  const { events } = start(t, 'http://127.0.0.1:1', { initialDelayMs: 5, maxDelayMs: 40 })
  const attempts = []
  for (let n = 1; n <= 6; n++) attempts.push(await events.nth('reconnecting', n))
  t.same(attempts.map(a => a.attempt), [1, 2, 3, 4, 5, 6])
  t.ok(attempts.every(a => a.delayMs < 40), 'capped')
  t.equal(attempts[0]?.code, 1006)
})

t.test('a WebSocket that cannot even be constructed is a fatal error', async t => {
  const { client, events } = start(t, 'http://127.0.0.1:1', {
    token: 'has space' // not a valid subprotocol token: ws (like browsers) throws a SyntaxError
  })
  const error = await events.nth('error', 1)
  t.same([error.fatal, error.message], [true, 'cannot open a WebSocket: An invalid or duplicated subprotocol was specified'])
  t.equal(client.state, 'closed')
})

t.test('refused upgrades behind something that is not pushwire: the status decides, odd bodies are not shown', async t => {
  // Every upgrade is cut; plain GETs get the scripted answers in turn.
  const answers: Array<[number, string, string]> = [
    [503, 'application/json', '{"error":"no message field"}'],
    [502, 'text/html', '<h1>Bad Gateway</h1>'],
    [404, 'application/json', '{"message":"no such route"}']
  ]
  const server = createServer((_request, response) => {
    const [status, type, body] = answers.shift() as [number, string, string]
    response.writeHead(status, { 'content-type': type }).end(body)
  })
  server.on('upgrade', (_request, socket) => socket.destroy())
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => server.close())
  const { events } = start(t, `http://127.0.0.1:${(server.address() as { port: number }).port}`)
  const error = await events.nth('error', 1)
  t.same(events.log.filter(([name]) => name === 'reconnecting').map(([, e]) => (e as { code: number }).code), [1006, 1006], '503 and 502 are retried')
  t.same([error.fatal, error.message], [true, 'upgrade refused with HTTP 404 (no such route): not reconnecting'])
})

t.test('a refusal with Retry-After (a rate limit) waits at least that long; up to 5 minutes, in seconds only', async t => {
  // Regression: the client retried on its own backoff, into the same limit, each probe spending more of it.
  const answers = [' 2 ', 'soon', '86400']
  const server = createServer((_request, response) => {
    response.writeHead(429, { 'content-type': 'application/json', 'retry-after': answers.shift() as string }).end('{"message":"slow down"}')
  })
  server.on('upgrade', (_request, socket) => socket.destroy())
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => { server.closeAllConnections(); server.close() })
  // No wait at all between attempts but the server's, which this test then skips by closing.
  const { client, events } = start(t, `http://127.0.0.1:${(server.address() as { port: number }).port}`, { initialDelayMs: 1, maxDelayMs: 1 })
  const first = await events.nth('reconnecting', 1)
  t.ok(first.delayMs >= 2000, `Retry-After: 2 is waited, spaces around it allowed (${first.delayMs} ms)`)
  client.close()
  const second = start(t, `http://127.0.0.1:${(server.address() as { port: number }).port}`, { initialDelayMs: 1, maxDelayMs: 1 })
  t.equal((await second.events.nth('reconnecting', 1)).delayMs, 0, 'a Retry-After that is no number of seconds is ignored')
  t.equal((await second.events.nth('reconnecting', 2)).delayMs, 300_000, 'a day is capped at 5 minutes')
})

t.test('a server that never answers the GET after a refused upgrade does not stall the client', async t => {
  const hung = new Set<import('node:http').ServerResponse>()
  const server = createServer((_request, response) => { hung.add(response) })
  server.on('upgrade', (_request, socket) => socket.destroy())
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => { server.closeAllConnections(); server.close() })
  const { client, events } = start(t, `http://127.0.0.1:${(server.address() as { port: number }).port}`, { probeTimeoutMs: 100 })
  t.equal((await events.nth('reconnecting', 2)).code, 1006, 'retried after each unanswered GET')
  t.equal(hung.size, 2, 'two GETs asked, neither answered')
  t.equal(client.state, 'reconnecting')
})

t.test('close() ends a GET under way that asks why an upgrade failed', async t => {
  // Regression: the GET went on until probeTimeoutMs, and kept a Node process alive that long after close().
  const hung: Array<import('node:http').ServerResponse> = []
  const server = createServer((_request, response) => { hung.push(response) })
  server.on('upgrade', (_request, socket) => socket.destroy())
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => { server.closeAllConnections(); server.close() })
  const { client } = start(t, `http://127.0.0.1:${(server.address() as { port: number }).port}`, { probeTimeoutMs: 2 ** 31 - 1 })
  await until(() => hung.length === 1, 'the GET is under way')
  const ended = once(hung[0] as import('node:http').ServerResponse, 'close')
  client.close()
  await ended
  t.equal(client.state, 'closed')
})
