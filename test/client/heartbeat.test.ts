// Heartbeat frames: the client offers "pushwire.heartbeat", and when the server selects it, a connection that brings
// no frame for two heartbeat intervals plus 5 s is taken for dead and replaced, with no ping in sight (browsers).
import t from 'tap'
import { listen, post } from '../helper.js'
import { freezingProxy } from './freezing-proxy.js'
import { start } from './recorder.js'
import { scripted } from './scripted.js'
import { StandardWebSocket } from './standard-websocket.js'

// Long enough that a test process stalled for a moment still reads its pong before the next sweep: a shorter one
// had the server terminate healthy connections under load, and the waits below then hung.
const INTERVAL = 500
/** 2 x INTERVAL + 5 s. */
const NOTICED = `no heartbeat from the server within ${2 * INTERVAL + 5000} ms`

t.test('in Node, with no heartbeatTimeoutMs, a connection that goes silent is noticed by its missing heartbeat frames', async t => {
  const server = await listen(t, { heartbeatIntervalMs: INTERVAL })
  const relay = await freezingProxy(t, server.url)
  const { client, events } = start(t, relay.url)
  await events.nth('open', 1)
  await post(server, '/send-message', { sender: 'bob', receiver: 'alice', message: 'hi' })
  t.match(await events.nth('message', 1), { message: 'hi' })
  // About 7 s, past the 6 s timeout: each heartbeat frame restarts it.
  await relay.pings(14)
  t.same(events.names(), ['open', 'message'], 'no timeout while heartbeat frames arrive, and none is a message')

  relay.freeze()
  t.same(await events.nth('close', 1), { code: 1006, reason: NOTICED, willReconnect: true })
  await events.nth('open', 2)
  t.equal(client.state, 'open')
  t.equal(server.app.connections.connectionCount, 1, 'the server dropped the frozen connection on its own missed pong')
})

t.test('with the standard (browser) API, which hides pings and whose close() waits on a dead peer, it is noticed too', async t => {
  const server = await listen(t, { heartbeatIntervalMs: INTERVAL })
  const relay = await freezingProxy(t, server.url)
  const { client, events } = start(t, relay.url, { WebSocket: StandardWebSocket })
  await events.nth('open', 1)
  relay.freeze()
  // ws, like a browser, would wait 30 s for the closing handshake that cannot complete: the client does not.
  t.same(await events.nth('close', 1), { code: 1006, reason: NOTICED, willReconnect: true })
  await events.nth('open', 2)
  t.equal(client.state, 'open')
})

t.test('a heartbeat frame is never a message event, in json or text format', async t => {
  const server = await listen(t, { heartbeatIntervalMs: INTERVAL })
  const relay = await freezingProxy(t, server.url)
  const json = start(t, relay.url)
  const text = start<'text'>(t, relay.url, { userId: 'bob', format: 'text' })
  await Promise.all([json.events.nth('open', 1), text.events.nth('open', 1)])
  // Each got a heartbeat frame right after the upgrade, so before these.
  await post(server, '/send-message', { sender: 'carol', receiver: 'alice', message: 'to alice' })
  await post(server, '/send-message', { sender: 'carol', receiver: 'bob', message: 'to bob' })
  t.match(await json.events.nth('message', 1), { type: 'message', message: 'to alice' })
  t.equal(await text.events.nth('message', 1), '[carol]: to bob')
  await relay.pings(4) // and two more each
  t.same([json.events.names(), text.events.names()], [['open', 'message'], ['open', 'message']])
})

t.test('the client offers "pushwire.heartbeat" first; a server that selects "pushwire" arms nothing, even if it sent one', async t => {
  const frame = JSON.stringify({ type: 'heartbeat', intervalMs: 1 })
  const older = await scripted(t, [socket => socket.send(frame)])
  const newer = await scripted(t, [socket => socket.send(frame)], 'pushwire.heartbeat')
  const old = start(t, older.url, { token: 'x' })
  const current = start(t, newer.url)
  await Promise.all([old.events.nth('open', 1), current.events.nth('open', 1)])
  t.same([older.offered, newer.offered], [['pushwire.heartbeat,pushwire,bearer.x'], ['pushwire.heartbeat,pushwire']])
  // Neither sends anything more: after 2 x 1 + 5000 ms only the one that selected heartbeats gives up.
  t.same(await current.events.nth('close', 1), { code: 1006, reason: 'no heartbeat from the server within 5002 ms', willReconnect: true })
  t.same(old.events.names(), ['open'], 'the heartbeat frame of a server that did not select it is ignored')
  t.equal(old.client.state, 'open')
})

t.test('a heartbeat frame whose interval is no usable number arms nothing', async t => {
  // Each that armed a timer would fire at once: no number (NaN), a timeout of 2 x -2500 + 5000 = 0 ms, or one past the
  // timers' range. (An interval of 0 is refused too, but would arm a 5 s timer this test cannot tell apart.)
  const frames = [{ type: 'heartbeat' }, { type: 'heartbeat', intervalMs: 'x' }, { type: 'heartbeat', intervalMs: -2500 }, { type: 'heartbeat', intervalMs: 2 ** 31 }]
  const server = await scripted(t, [socket => { for (const frame of frames) socket.send(JSON.stringify(frame)) }], 'pushwire.heartbeat')
  const { client, events } = start(t, server.url)
  await events.nth('open', 1)
  // A timer from any of them would have fired by now (NaN and overflowing delays run after 1 ms).
  await new Promise(resolve => setTimeout(resolve, 100))
  t.same(events.names(), ['open'])
  t.equal(client.state, 'open')
})
