// The opt-in heartbeat frame: a client that offers the subprotocol "pushwire.heartbeat" gets a JSON heartbeat frame
// right after the upgrade and with every ping, so a browser, which cannot see pings, can tell idle from dead. Every
// other client gets exactly the frames it always did.
import { once } from 'node:events'
import t from 'tap'
import type WebSocket from 'ws'
import { connect, listen, post } from '../helper.js'

// Long enough that a stalled test process still answers a ping before the next sweep (see test/client/heartbeat.test.ts).
const INTERVAL = 250
const HEARTBEAT = `{"type":"heartbeat","intervalMs":${INTERVAL}}`

/** Resolves once the socket has received n pings; rejects if it closes first, rather than waiting for good. */
async function pings (ws: WebSocket, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await Promise.race([once(ws, 'ping'), once(ws, 'close').then(([code]) => { throw new Error(`closed with ${String(code)} while waiting for a ping`) })])
  }
}

t.test('a client offering "pushwire.heartbeat" has it selected and gets a heartbeat frame at once, then with every ping', async t => {
  // At once: with the first sweep a minute away, the frame can only be the one written with the 101.
  const quiet = await listen(t, { heartbeatIntervalMs: 60_000 })
  const early = await connect(t, quiet, '/ws/alice', {}, ['pushwire.heartbeat', 'pushwire'])
  t.equal(early.ws.protocol, 'pushwire.heartbeat')
  t.same(await early.waitFor(1), ['{"type":"heartbeat","intervalMs":60000}'], 'the client learns the interval at once')

  const server = await listen(t, { heartbeatIntervalMs: INTERVAL })
  const alice = await connect(t, server, '/ws/alice', {}, ['pushwire.heartbeat', 'pushwire'])
  await pings(alice.ws, 3)
  // The one at once, and one with each of (at least) three sweeps since; nothing else.
  await alice.waitFor(4)
  t.same(alice.frames, Array(alice.frames.length).fill(HEARTBEAT))
  const sent = await post(server, '/send-message', { sender: 'bob', receiver: 'alice', message: 'hi' })
  let frame: Record<string, unknown>
  do frame = await alice.nextJson(); while (frame.type === 'heartbeat')
  t.match(frame, { type: 'message', id: sent.body.id, message: 'hi' }, 'messages arrive as before')
})

t.test('with ?format=text, an opted-in client gets the same JSON frame next to its lines', async t => {
  const server = await listen(t, { heartbeatIntervalMs: INTERVAL })
  const alice = await connect(t, server, '/ws/alice?format=text', {}, ['pushwire.heartbeat', 'pushwire'])
  t.equal(alice.ws.protocol, 'pushwire.heartbeat')
  t.equal((await alice.waitFor(1))[0], HEARTBEAT)
  await post(server, '/send-message', { sender: 'bob', receiver: 'alice', message: 'hi' })
  await pings(alice.ws, 2)
  await alice.waitFor(4)
  t.ok(alice.frames.includes('[bob]: hi'))
  t.same(alice.frames.filter(frame => frame !== '[bob]: hi'), Array(alice.frames.length - 1).fill(HEARTBEAT))
})

t.test('clients that do not offer it (no subprotocol, "pushwire" alone or among others) never get a heartbeat frame', async t => {
  const server = await listen(t, { heartbeatIntervalMs: INTERVAL })
  const plain = await connect(t, server, '/ws/alice')
  const pushwire = await connect(t, server, '/ws/alice', {}, ['pushwire'])
  const others = await connect(t, server, '/ws/alice?format=text', {}, ['chat', 'pushwire'])
  t.same([plain.ws.protocol, pushwire.ws.protocol, others.ws.protocol], ['', 'pushwire', 'pushwire'])
  await Promise.all([plain, pushwire, others].map(async client => await pings(client.ws, 4)))
  t.same([plain.frames, pushwire.frames, others.frames], [[], [], []], 'four sweeps, and not a frame')
})

t.test('"pushwire.heartbeat" offered alone is selected too', async t => {
  const server = await listen(t, { heartbeatIntervalMs: 60_000 })
  const alice = await connect(t, server, '/ws/alice', {}, ['pushwire.heartbeat'])
  t.equal(alice.ws.protocol, 'pushwire.heartbeat')
  t.same(await alice.waitFor(1), ['{"type":"heartbeat","intervalMs":60000}'])
})
