// The client keeps going when its own listeners throw, when a server accepts TCP but never answers the upgrade, and
// when a connection goes silent without a FIN or RST.
import { once } from 'node:events'
import { createServer, type Socket } from 'node:net'
import t, { type Test } from 'tap'
import { WebSocket, type WebSocket as ServerWebSocket } from 'ws'
import type { ConnectOptions, State } from '../../src/client/index.js'
import { listen, post } from '../helper.js'
import { freezingProxy } from './freezing-proxy.js'
import { start, uncaught } from './recorder.js'
import { StandardWebSocket } from './standard-websocket.js'
import { scripted } from './scripted.js'

t.test('a close listener that throws does not stop reconnecting, and its error is still reported', async t => {
  const errors = uncaught(t)
  const server = await scripted(t, [socket => socket.close(1001, 'restart')])
  const { client, events } = start(t, server.url)
  const seen: State[] = []
  client.on('close', ({ willReconnect }) => {
    seen.push(client.state)
    if (willReconnect) throw new Error('oops')
  })
  t.same(await events.nth('close', 1), { code: 1001, reason: 'restart', willReconnect: true })
  await events.nth('reconnecting', 1)
  await events.nth('open', 2)
  t.equal(client.state, 'open')
  t.same(seen, ['reconnecting'], 'the state is already reconnecting when the close event says it will')
  await new Promise(resolve => setImmediate(resolve))
  t.same(errors.map(e => e.message), ['oops'], 'reported as uncaught, once')
})

t.test('an error listener that throws after a failed getToken does not stop reconnecting', async t => {
  const errors = uncaught(t)
  const server = await scripted(t, [])
  let calls = 0
  const { client, events } = start(t, server.url, {
    getToken: () => {
      if (++calls === 1) throw new Error('auth service down')
      return 'token'
    }
  })
  const seen: State[] = []
  client.on('error', () => {
    seen.push(client.state)
    throw new Error('oops in error listener')
  })
  await events.nth('open', 1)
  await new Promise(resolve => setImmediate(resolve))
  t.same(events.names(), ['error', 'reconnecting', 'open'])
  t.same(seen, ['reconnecting'])
  t.same(errors.map(e => e.message), ['oops in error listener'])
})

t.test('a fatal error is emitted with the state already closed; other listeners of a throwing one still run', async t => {
  const errors = uncaught(t)
  const server = await scripted(t, [socket => socket.close(1008, 'policy')])
  const { client, events } = start(t, server.url)
  const seen: State[] = []
  client.on('error', () => { throw new Error('first') })
  client.on('error', () => { seen.push(client.state) })
  await events.nth('close', 1)
  t.same(seen, ['closed'])
  await new Promise(resolve => setImmediate(resolve))
  t.same(errors.map(e => e.message), ['first'])
})

t.test('close() inside a close listener that was told the client reconnects: it stops, with no reconnecting', async t => {
  const server = await scripted(t, [socket => socket.close(1001)])
  const { client, events } = start(t, server.url)
  client.on('close', ({ willReconnect }) => { if (willReconnect) client.close() })
  t.same(await events.nth('close', 2), { code: 1000, reason: 'client closed', willReconnect: false })
  await new Promise(resolve => setTimeout(resolve, 100))
  t.same(events.names(), ['open', 'close', 'close'])
  t.equal(client.state, 'closed')
  t.equal(server.connections(), 1)
})

/** A TCP server that accepts and never answers, the way a hung load balancer does; it keeps what each client sent. */
async function silent (t: Test): Promise<{ url: string, requests: string[] }> {
  const requests: string[] = []
  const sockets = new Set<Socket>()
  const server = createServer(socket => {
    sockets.add(socket)
    const index = requests.push('') - 1
    socket.on('data', (chunk: Buffer) => { requests[index] += chunk.toString() })
    socket.on('error', () => {})
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => {
    for (const socket of sockets) socket.destroy()
    server.close()
  })
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, requests }
}

t.test('an opening handshake that never gets an answer times out and is retried like any failed connect', async t => {
  const server = await silent(t)
  const { client, events } = start(t, server.url, { connectTimeoutMs: 100 })
  t.equal(client.state, 'connecting')
  t.same(await events.nth('close', 1), { code: 1006, reason: 'no answer to the opening handshake within 100 ms', willReconnect: true })
  t.equal((await events.nth('reconnecting', 1)).code, 1006)
  await events.nth('reconnecting', 2)
  t.same(events.names().slice(0, 4), ['close', 'reconnecting', 'close', 'reconnecting'])
  t.equal(server.requests.length, 2, 'two attempts')
  t.ok(server.requests.every(request => /^GET \/ws\/alice HTTP\/1\.1\r\n/.test(request) && /\r\nUpgrade: websocket\r\n/i.test(request)),
    'only upgrades: no probe GET is sent to a server that does not answer')
})

t.test('the connect timeout does not touch a connection that opened', async t => {
  const server = await listen(t)
  // Long enough for a handshake on a loaded machine; then waited out, with the connection open.
  const { client, events } = start(t, server.url, { connectTimeoutMs: 1000 })
  await events.nth('open', 1)
  await new Promise(resolve => setTimeout(resolve, 1200))
  t.equal(client.state, 'open')
  t.same(events.names(), ['open'])
})

t.test('in Node, a connection that goes silent is noticed after heartbeatTimeoutMs without a ping, and replaced', async t => {
  const server = await listen(t, { heartbeatIntervalMs: 250 })
  const relay = await freezingProxy(t, server.url)
  const { client, events } = start(t, relay.url, { heartbeatTimeoutMs: 1000 })
  await events.nth('open', 1)
  await post(server, '/send-message', { sender: 'bob', receiver: 'alice', message: 'hi' })
  await events.nth('message', 1) // a message is a sign of life too
  await relay.pings(6) // about 1.5 s: pings keep a healthy connection open well past the timeout
  t.same(events.names(), ['open', 'message'], 'no timeout while pings arrive')

  relay.freeze()
  t.same(await events.nth('close', 1), { code: 1006, reason: 'no ping from the server within 1000 ms', willReconnect: true })
  await events.nth('open', 2)
  t.equal(client.state, 'open')
  t.equal(server.app.connections.connectionCount, 1, 'the server dropped the frozen connection on its own missed heartbeat')
})

t.test('heartbeatTimeoutMs is ignored where pings cannot be seen: the standard (browser) WebSocket API', async t => {
  const server = await listen(t, { heartbeatIntervalMs: 250 })
  const relay = await freezingProxy(t, server.url)
  const { events } = start(t, relay.url, { heartbeatTimeoutMs: 100, WebSocket: StandardWebSocket })
  await events.nth('open', 1)
  await relay.pings(3)
  t.same(events.names(), ['open'], 'pings are invisible, so silence is not watched')
})

t.test('close() is done at once: no message after it, and a peer that never answers the closing handshake is cut off', async t => {
  // Regression: after close() the state read "open", frames still arrived as messages, and against a peer that
  // never answered (a partition) the close event and the process's exit waited for ws's 30 s.
  let serverSide: ServerWebSocket | undefined
  const server = await scripted(t, [socket => { serverSide = socket }])
  const made: WebSocket[] = []
  class Watched extends WebSocket {
    constructor (url: string, protocols: string[]) {
      super(url, protocols)
      made.push(this)
    }
  }
  const { client, events } = start(t, server.url, { WebSocket: Watched as unknown as ConnectOptions['WebSocket'] })
  await events.nth('open', 1)
  const peer = serverSide as ServerWebSocket
  // The peer stops reading, so the client's close frame is never answered; it can still write.
  ;(peer as unknown as { _socket: Socket })._socket.pause()
  const socketClosed = once(made[0] as WebSocket, 'close')
  client.close()
  t.equal(client.state, 'closed')
  t.same(events.names(), ['open', 'close'])
  t.same(events.log[1]?.[1], { code: 1000, reason: 'client closed', willReconnect: false })
  peer.send(JSON.stringify({ type: 'message', id: 'late', sender: 'b', receiver: 'alice', message: 'after close()', sentAt: new Date().toISOString() }))
  // Cut off after 2 s, where ws alone would wait 30 s. Not a speed figure: the bound only tells the two apart.
  const waitedOut = new Promise(resolve => { setTimeout(resolve, 15_000, 'waited out').unref() })
  t.not(await Promise.race([socketClosed, waitedOut]), 'waited out', 'the socket was cut off')
  t.same(events.names(), ['open', 'close'], 'nothing after it')
})

t.test('a WebSocket implementation that never reports a failed handshake still times out and is retried', async t => {
  // Node 20's experimental global WebSocket never fires close after a refused upgrade; the client waited for good.
  let made = 0
  class Mute {
    readonly readyState = 0
    readonly protocol = ''
    constructor () { made++ }
    close (): void {}
    addEventListener (): void {}
  }
  const { events } = start(t, 'http://127.0.0.1:1', { connectTimeoutMs: 50, WebSocket: Mute as unknown as ConnectOptions['WebSocket'] })
  t.same(await events.nth('close', 1), { code: 1006, reason: 'no answer to the opening handshake within 50 ms', willReconnect: true })
  await events.nth('reconnecting', 2)
  t.ok(made >= 2, 'a new socket each attempt')
})
