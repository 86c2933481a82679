// The client against a real pushwire server: delivery, restarts, token expiry and refused upgrades.
import type { Static } from '@sinclair/typebox'
import t from 'tap'
import WebSocket from 'ws'
import { connect, type ConnectOptions, type MessageFrame, type PushwireClient, type WebSocketConstructor } from '../../src/client/index.js'
import { ReceiverTokens } from '../../src/auth.js'
import { CLOSE } from '../../src/close-codes.js'
import type { MessageFrameSchema } from '../../src/schemas/ws.js'
import { build, listen, LogCapture, post, until, type Overrides, type Server } from '../helper.js'
import { freePort } from '../redis-server.js'
import { fast, record, start } from './recorder.js'

const KEY = 'publisher-key-0123456789abcdef'
const SECRET = 'receiver-token-secret-0123456789abcdef'
const secure: Overrides = { apiKeys: [KEY], jwtSecret: SECRET }

t.test('the frame types match the server schema', async t => {
  type Same<A, B> = [A] extends [B] ? [B] extends [A] ? true : false : false
  const same: Same<MessageFrame, Static<typeof MessageFrameSchema>> = true
  t.ok(same)
})

t.test('connect() types: text gives strings, json frames, and a format only known at run time the union', async t => {
  type Same<A, B> = [A] extends [B] ? [B] extends [A] ? true : false : false
  const options = { url: 'http://127.0.0.1:1', userId: 'alice' }
  const pick = (text: boolean): 'json' | 'text' => text ? 'text' : 'json'
  const clients = [connect(options), connect({ ...options, format: 'text' }), connect({ ...options, format: pick(false) })] as const
  for (const client of clients) client.close()
  const json: Same<typeof clients[0], PushwireClient<MessageFrame>> = true
  const text: Same<typeof clients[1], PushwireClient<string>> = true
  const either: Same<typeof clients[2], PushwireClient<MessageFrame | string>> = true
  t.same([json, text, either], [true, true, true])
})

t.test('direct, topic and broadcast messages arrive as frames; text format gives lines', async t => {
  const server = await listen(t)
  const { client, events } = start(t, server.url, { topics: ['news'] })
  const text = connect({ url: server.url, userId: 'bob', format: 'text', ...fast })
  t.teardown(() => text.close())
  const lines = record(text)
  await Promise.all([events.nth('open', 1), lines.nth('open', 1)])
  t.same(await events.nth('open', 1), { attempt: 0 })
  t.equal(client.state, 'open')
  t.equal(client.url, `${server.wsUrl}/ws/alice?topics=news`)

  const direct = await post(server, '/send-message', { sender: 'bob', receiver: 'alice', message: '<b>hi</b>' })
  t.same(direct.body.status, 'sent')
  await post(server, '/publish', { sender: 'bob', topic: 'news', message: 'extra' })
  await post(server, '/broadcast', { sender: 'bob', message: 'all' })
  const frames = [await events.nth('message', 1), await events.nth('message', 2), await events.nth('message', 3)]
  t.match(frames, [
    { type: 'message', id: direct.body.id, sender: 'bob', receiver: 'alice', message: '<b>hi</b>' },
    { topic: 'news', message: 'extra' },
    { broadcast: true, message: 'all' }
  ])
  t.equal(await lines.nth('message', 1), '[bob → all]: all')
})

t.test('a server restart mid-stream: the client is back on the first attempt after the server is, then messages flow', async t => {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  let app = await build(t)
  await app.listen({ port, host: '127.0.0.1' })
  const { client, events } = start(t, url)
  await events.nth('open', 1)
  // A stream of sends, before, during and after the restart.
  let sent = 0
  const stream = setInterval(() => { fetch(`${url}/send-message`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sender: 'bob', receiver: 'alice', message: `n${++sent}` }) }).catch(() => {}) }, 10)
  t.teardown(() => clearInterval(stream))
  await events.nth('message', 3)

  await app.close()
  t.same(await events.nth('close', 1), { code: 1001, reason: 'server shutting down', willReconnect: true })
  await events.nth('reconnecting', 3) // a few attempts fail while nothing listens
  t.equal(client.state, 'reconnecting')
  t.ok(events.log.filter(([name]) => name === 'reconnecting').every(([, e]) => (e as { delayMs: number }).delayMs < fast.maxDelayMs), 'every delay under the cap')

  app = await build(t)
  await app.listen({ port, host: '127.0.0.1' })
  const attemptsWhenUp = events.count('reconnecting')
  await events.nth('open', 2)
  t.equal(events.count('reconnecting'), attemptsWhenUp, 'the attempt pending when the server came back succeeded: back within one backoff delay')
  const before = events.count('message')
  await events.nth('message', before + 3)
  clearInterval(stream)
  const ids = events.log.filter(([name]) => name === 'message').map(([, f]) => (f as MessageFrame).id)
  t.equal(new Set(ids).size, ids.length, 'no message twice')
})

/** Sends to alice every 10 ms; resolves, when stopped, with the answers' statuses and ids. */
function stream (server: Server) {
  const answers: Array<Promise<{ status: string, id: string }>> = []
  let n = 0
  const timer = setInterval(() => {
    answers.push(post(server, '/send-message', { sender: 'bob', receiver: 'alice', message: `n${++n}` }, { authorization: `Bearer ${KEY}` })
      .then(res => res.body as { status: string, id: string }))
  }, 10)
  return {
    stop: async () => {
      clearInterval(timer)
      return await Promise.all(answers)
    }
  }
}

t.test('a token is replaced ahead of its expiry: no 4001, no gap, every message once', async t => {
  // Regression for a gap: the connection was closed with 4001 at expiry, and sends answered "offline" until the
  // client had a fresh token and was back.
  const logs = new LogCapture()
  const server = await listen(t, secure, logs)
  const tokens = new ReceiverTokens(SECRET)
  let issued = 0
  // 6 s tokens (exp is whole seconds: they live 5-6 s), each replaced 1.25-1.5 s ahead of its expiry: more than the
  // second the replaced connection goes on delivering.
  const getToken = async () => {
    issued++
    return (await tokens.mint('alice', undefined, 6)).token
  }
  const { client, events } = start(t, server.url, { getToken })
  await events.nth('open', 1)
  const sending = stream(server)
  // Two replacements: the third token asked for, and the connections they replaced closed.
  await until(() => issued === 3, 'a second refresh', { timeoutMs: 15_000 })
  const closes = () => logs.lines.filter(line => line.msg === 'ws closed')
  await until(() => server.app.connections.connectionCount === 1 && closes().length === 2, 'two handovers done')
  const answers = await sending.stop()
  const last = answers.at(-1) as { id: string }
  await until(() => events.log.some(([name, frame]) => name === 'message' && (frame as MessageFrame).id === last.id), 'the last message arrives')

  t.same(answers.filter(answer => answer.status !== 'sent'), [], 'never offline: a connection was always registered')
  const received = events.log.filter(([name]) => name === 'message').map(([, frame]) => (frame as MessageFrame).id)
  // Sends overlap (one every 10 ms), so the answers' order need not be the frames'.
  t.same(received.toSorted(), answers.map(answer => answer.id).toSorted(), 'every message, once')
  t.same(events.names().filter(name => name !== 'message'), ['open'], 'no close, no reconnect: the stream just goes on')
  t.equal(client.state, 'open')
  t.same(closes().map(line => line.code), [1000, 1000], 'each replaced connection was closed by the client, not expired')
})

t.test('token expiry when the refresh ahead of it fails: 4001, getToken again, and the stream goes on', async t => {
  const server = await listen(t, secure)
  const tokens = new ReceiverTokens(SECRET)
  const calls: string[] = []
  const getToken = async () => {
    calls.push(calls.length === 1 ? 'refused' : 'minted')
    // The second call is the refresh ahead of expiry: the token service is down just then.
    if (calls.length === 2) throw new Error('token service down')
    return (await tokens.mint('alice', undefined, calls.length === 1 ? 2 : 60)).token
  }
  const { client, events } = start(t, server.url, { getToken })
  await events.nth('open', 1)
  t.same(await events.nth('close', 1), { code: 4001, reason: 'token expired', willReconnect: true })
  await events.nth('open', 2)
  t.same(calls, ['minted', 'refused', 'minted'], 'the refresh failed quietly; the 4001 asked again')
  const answer = await post(server, '/send-message', { sender: 'bob', receiver: 'alice', message: 'after refresh' }, { authorization: `Bearer ${KEY}` })
  t.equal(answer.body.status, 'sent')
  t.match(await events.nth('message', 1), { message: 'after refresh' })
  t.equal(client.state, 'open')
})

t.test('a replacement the server refuses (the per-user limit) leaves the connection to expire as before', async t => {
  const server = await listen(t, { ...secure, maxConnectionsPerUser: 1 })
  const tokens = new ReceiverTokens(SECRET)
  let issued = 0
  const getToken = async () => (await tokens.mint('alice', undefined, ++issued === 1 ? 2 : 60)).token
  const { events } = start(t, server.url, { getToken })
  await events.nth('open', 1)
  t.same(await events.nth('close', 1), { code: 4001, reason: 'token expired', willReconnect: true })
  await events.nth('open', 2)
  t.equal(issued, 3, 'the first token, its refused replacement\'s, and the one after the 4001')
  t.same(events.names(), ['open', 'close', 'reconnecting', 'open'], 'the refused replacement told nobody')
})

t.test('close() during a refresh or a handover closes every connection, and nothing follows', async t => {
  const server = await listen(t, secure)
  const tokens = new ReceiverTokens(SECRET)
  // A refresh whose getToken is still pending when close() comes.
  let asked = 0
  let answer: (token: string) => void = () => {}
  const pending = start(t, server.url, {
    getToken: async () => ++asked === 1 ? (await tokens.mint('alice', undefined, 2)).token : await new Promise<string>(resolve => { answer = resolve })
  })
  await pending.events.nth('open', 1)
  await until(() => asked === 2, 'the refresh asks for a token')
  pending.client.close()
  answer((await tokens.mint('alice', undefined, 60)).token)
  await until(() => server.app.connections.connectionCount === 0, 'its connection closed')
  await new Promise(resolve => setImmediate(resolve))
  t.equal(server.app.connections.connectionCount, 0, 'the token that came late opened nothing')

  // close() just after a handover, while the replaced connection still delivers.
  const sockets: WebSocket[] = []
  class Tracked extends WebSocket {
    constructor (url: string, protocols: string[]) {
      super(url, protocols)
      sockets.push(this)
    }
  }
  let issued = 0
  const { client, events } = start(t, server.url, {
    WebSocket: Tracked as unknown as WebSocketConstructor,
    getToken: async () => (await tokens.mint('alice', undefined, ++issued === 1 ? 2 : 60)).token
  })
  await events.nth('open', 1)
  // ws sets OPEN just before it emits 'open', whose listeners (the client's) have run by the next poll.
  await until(() => sockets[1]?.readyState === WebSocket.OPEN, 'the replacement took over')
  t.equal(server.app.connections.connectionCount, 2, 'the replaced connection still delivers')
  client.close()
  await until(() => server.app.connections.connectionCount === 0, 'both closed at once, not after the handover')
  t.same(events.names(), ['open', 'close'])
  t.equal((await post(server, '/send-message', { sender: 'bob', receiver: 'alice', message: 'x' }, { authorization: `Bearer ${KEY}` })).body.status, 'offline')

  // close() while the replacement's handshake is under way: it is abandoned too.
  const inHandshake: WebSocket[] = []
  let closeNow = () => {}
  class ClosedMidHandshake extends WebSocket {
    constructor (url: string, protocols: string[]) {
      super(url, protocols)
      inHandshake.push(this)
      // Once the client has taken it up, long before the server can answer.
      if (inHandshake.length === 2) queueMicrotask(closeNow)
    }
  }
  issued = 0
  const third = start(t, server.url, {
    WebSocket: ClosedMidHandshake as unknown as WebSocketConstructor,
    getToken: async () => (await tokens.mint('alice', undefined, ++issued === 1 ? 2 : 60)).token
  })
  closeNow = () => { third.client.close() }
  await third.events.nth('close', 1)
  await until(() => inHandshake[1]?.readyState === WebSocket.CLOSED, 'the replacement is cut off before it opens')
  await until(() => server.app.connections.connectionCount === 0, 'nothing left open')
  t.same(third.events.names(), ['open', 'close'])
})

t.test('a 401 at upgrade refreshes the token through getToken', async t => {
  const server = await listen(t, secure)
  const tokens = new ReceiverTokens(SECRET)
  const stale = (await tokens.mint('mallory', undefined, 60)).token // a token of another user: 401
  let calls = 0
  const { events } = start(t, server.url, { token: stale, getToken: async () => { calls++; return (await tokens.mint('alice', undefined, 60)).token } })
  t.same(await events.nth('close', 1), { code: 1006, reason: '', willReconnect: true })
  await events.nth('open', 1)
  t.equal(calls, 1)
})

t.test('a 401 at upgrade without getToken gives up; a 404 stops for good', async t => {
  const server = await listen(t, secure)
  const noToken = start(t, server.url)
  const error = await noToken.events.nth('error', 1)
  t.same([error.fatal, error.code], [true, 1006])
  t.match(error.message, 'upgrade refused with HTTP 401 (a receiver token is required: send "Authorization: Bearer <token>", or from a browser the subprotocols ["pushwire", "bearer.<token>"]): a fresh token is needed and there is no getToken')
  t.equal(noToken.client.state, 'closed')

  const open = await listen(t)
  // A base URL with a path the server does not have (the client checks everything that would be a 400 itself).
  const wrongPath = start(t, `${open.url}/push`)
  t.match((await wrongPath.events.nth('error', 1)).message, /^upgrade refused with HTTP 404 \(.*\): not reconnecting$/)
  t.equal(wrongPath.events.count('reconnecting'), 0)
})

t.test('a refused upgrade that passes on a plain GET (429: too many connections) is retried', async t => {
  const server = await listen(t, { maxConnectionsPerUser: 1 })
  const first = new WebSocket(`${server.wsUrl}/ws/alice`)
  await new Promise(resolve => first.once('open', resolve))
  const { events } = start(t, server.url)
  t.equal((await events.nth('reconnecting', 1)).code, 1006)
  first.close()
  await events.nth('open', 1)
})

t.test('close(): while open, while waiting to reconnect, before the first attempt, and twice', async t => {
  const server = await listen(t)
  const open = start(t, server.url)
  await open.events.nth('open', 1)
  open.client.close()
  t.same(await open.events.nth('close', 1), { code: 1000, reason: 'client closed', willReconnect: false })
  t.equal(open.client.state, 'closed')
  open.client.close()
  t.equal(open.events.count('close'), 1, 'a second close() does nothing')

  const waiting = start(t, 'http://127.0.0.1:1', { initialDelayMs: 5000, maxDelayMs: 5000 })
  await waiting.events.nth('reconnecting', 1)
  waiting.client.close()
  t.same(await waiting.events.nth('close', 2), { code: 1000, reason: 'client closed', willReconnect: false })

  const duringGetToken = start(t, server.url, { getToken: () => { duringGetToken.client.close(); return 'token' } })
  await duringGetToken.events.nth('close', 1)
  t.equal(duringGetToken.client.state, 'closed', 'no socket is opened once close() was called')

  // getToken fails only after close(): the failure must not bring the client back.
  let rejectToken: (err: Error) => void = () => {}
  const failingAfterClose = start(t, server.url, { getToken: async () => await new Promise<string>((_resolve, reject) => { rejectToken = reject }) })
  await new Promise(resolve => setImmediate(resolve))
  failingAfterClose.client.close()
  rejectToken(new Error('token service down'))
  await new Promise(resolve => setTimeout(resolve, 50))
  t.same(failingAfterClose.events.names(), ['close'], 'no error and no reconnect after close()')
  t.equal(failingAfterClose.client.state, 'closed')

  // close() while the socket is still connecting: the documented 1000, not the 1006 of an upgrade cut short.
  // (Given a WebSocket class, the client opens its socket in the microtask after connect().)
  const connecting = start(t, server.url, { WebSocket: WebSocket as unknown as ConnectOptions['WebSocket'] })
  await new Promise(resolve => setImmediate(resolve))
  t.equal(connecting.client.state, 'connecting')
  connecting.client.close()
  t.same(await connecting.events.nth('close', 1), { code: 1000, reason: 'client closed', willReconnect: false })

  const early = start(t, server.url)
  early.client.close()
  t.same(early.events.names(), ['close'])
  t.equal((await post(server, '/send-message', { sender: 'b', receiver: 'alice', message: 'x' })).body.status, 'offline', 'never connected')
})

t.test('close() while the client is asking the server why an upgrade failed', async t => {
  const server = await listen(t, secure)
  const { client, events } = start(t, server.url)
  // The 401's probe is under way once the socket has closed; close() lands before it answers.
  const originalFetch = globalThis.fetch
  t.teardown(() => { globalThis.fetch = originalFetch })
  globalThis.fetch = async (...args: Parameters<typeof fetch>) => {
    client.close()
    return await originalFetch(...args)
  }
  t.same(await events.nth('close', 1), { code: 1000, reason: 'client closed', willReconnect: false })
  await new Promise(resolve => setTimeout(resolve, 100))
  t.same(events.names(), ['close'], 'nothing after the close')
})

t.test('urls: http(s) map to ws(s), a path prefix is kept, bad options throw', async t => {
  const url = (options: Partial<ConnectOptions<'json'>>) => {
    const client = connect({ url: 'http://h', userId: 'u', ...options })
    client.close()
    return client.url
  }
  t.equal(url({ url: 'https://push.example.com/base/' }), 'wss://push.example.com/base/ws/u')
  t.equal(url({ url: 'ws://h:3000?x=1', userId: 'a@b:c', topics: [] }), 'ws://h:3000/ws/a%40b%3Ac')
  t.equal(url({ url: 'wss://h', topics: ['a', 'b'], format: 'text' as never }), 'wss://h/ws/u?topics=a%2Cb&format=text')
  t.throws(() => connect({ url: 'ftp://h', userId: 'u' }), { name: 'TypeError', message: /url must be http\(s\) or ws\(s\)/ })
  t.throws(() => connect({ url: 'http://h', userId: '' }), { name: 'TypeError', message: /userId is required/ })
  // Regression: an id the server refuses before any route (over 100 characters, or "." and "..", which the URL
  // resolves away) made a browser client reconnect for ever; the server's rule is checked here first.
  for (const bad of ['a b', 'a'.repeat(65), 'a'.repeat(20_000), '.', '..', 'a/b']) {
    t.throws(() => connect({ url: 'http://h', userId: bad }), { name: 'TypeError', message: 'connect: userId must be 1-64 characters from A-Z a-z 0-9 _ - . @ :, other than "." and ".."' }, bad.slice(0, 10))
  }
  t.doesNotThrow(() => { connect({ url: 'http://127.0.0.1:1', userId: 'a'.repeat(64), initialDelayMs: 60_000 }).close() })
  t.doesNotThrow(() => { connect({ url: 'http://127.0.0.1:1', userId: '...', initialDelayMs: 60_000 }).close() })
  // Regression: Infinity or 0 ("no timeout") made every handshake time out at once (timers overflow to 1 ms), and a
  // NaN or negative delay (a badly parsed environment variable) reconnected about 450 times a second.
  for (const name of ['connectTimeoutMs', 'heartbeatTimeoutMs', 'probeTimeoutMs', 'initialDelayMs', 'maxDelayMs', 'stableAfterMs'] as const) {
    for (const bad of [0, -1, Infinity, Number.NaN, 2 ** 31, '5000' as never]) {
      t.throws(() => connect({ url: 'http://h', userId: 'u', [name]: bad }), { name: 'TypeError', message: `connect: ${name} must be a number of milliseconds from 1 to 2147483647` }, `${name} ${String(bad)}`)
    }
    for (const edge of [1, 2 ** 31 - 1]) {
      t.doesNotThrow(() => { connect({ url: 'http://127.0.0.1:1', userId: 'u', initialDelayMs: 60_000, [name]: edge }).close() }, `${name} ${edge}`)
    }
  }
  for (const bad of [-1, 1.5, Number.NaN, Infinity]) {
    t.throws(() => connect({ url: 'http://h', userId: 'u', dedupeWindow: bad }), { name: 'TypeError', message: 'connect: dedupeWindow must be a whole number from 0 (no deduplication) to 1000000' }, `dedupeWindow ${bad}`)
  }
  t.doesNotThrow(() => { connect({ url: 'http://127.0.0.1:1', userId: 'u', dedupeWindow: 0, initialDelayMs: 60_000 }).close() })
  // Regression: "a,b" was sent as it is and subscribed to two topics; an unknown format quietly meant json.
  for (const topics of [['a,b'], [''], ['news', 'a b'], ['x'.repeat(65)], 'news' as never]) {
    t.throws(() => connect({ url: 'http://h', userId: 'u', topics }), { name: 'TypeError', message: 'connect: topics must be a list of topic names, each 1-64 characters from A-Z a-z 0-9 _ - . :' }, JSON.stringify(topics))
  }
  // Regression: 33 topics passed the check, and every connect then failed with the server's 400.
  const topics = (n: number): string[] => Array.from({ length: n }, (_, i) => `t${i}`)
  t.throws(() => connect({ url: 'http://h', userId: 'u', topics: topics(33) }), { name: 'TypeError', message: 'connect: topics holds 33 topics; a connection may hold at most 32' })
  t.doesNotThrow(() => { connect({ url: 'http://127.0.0.1:1', userId: 'u', initialDelayMs: 60_000, topics: [...topics(32), 't0'] }).close() }, '32 distinct topics, one repeated')
  t.throws(() => connect({ url: 'http://h', userId: 'u', format: 'xml' as never }), { name: 'TypeError', message: 'connect: format must be "json" or "text"' })
  for (const token of ['', ' \n', 42 as never]) {
    t.throws(() => connect({ url: 'http://h', userId: 'u', token }), { name: 'TypeError', message: 'connect: token must be non-blank text' }, JSON.stringify(token))
  }
  t.equal(url({ url: 'http://h/app#section' }), 'ws://h/app/ws/u', "a page's location.href may carry a fragment; a WebSocket URL must not")
})

t.test('uses the global WebSocket when there is one (browsers, Node 22), else ws', async t => {
  const server = await listen(t)
  const global = globalThis as { WebSocket?: unknown }
  const original = global.WebSocket
  t.teardown(() => { global.WebSocket = original })
  let constructed = 0
  global.WebSocket = class extends WebSocket {
    constructor (url: string, protocols: string[]) {
      super(url, protocols)
      constructed++
    }
  }
  // With the default delays, too.
  const client = connect({ url: server.url, userId: 'alice' })
  t.teardown(() => client.close())
  const events = record(client)
  await events.nth('open', 1)
  t.equal(constructed, 1)
  for (const connection of [...server.app.connections.connections()]) server.app.connections.close(connection, CLOSE.slowConsumer)
  t.ok((await events.nth('reconnecting', 1)).delayMs < 500, 'the default first delay is under 500 ms')
  await events.nth('open', 2)
  t.equal(constructed, 2)
})
