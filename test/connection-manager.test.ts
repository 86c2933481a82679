// The ConnectionManager alone: no Fastify, real ws sockets on both ends.
import { once } from 'node:events'
import t from 'tap'
import WebSocket from 'ws'
import { Connection, ConnectionManager } from '../src/connection-manager.js'
import { OutgoingMessage } from '../src/message.js'
import type { FrameFormat } from '../src/schemas/ws.js'
import { until } from './helper.js'
import { delivered, socketPairs, type Pair } from './socket-pairs.js'

const conn = (pair: Pair, id: string, userId: string, topics: string[] = [], format: FrameFormat = 'json') =>
  new Connection(id, userId, topics, format, pair.server)

t.test('indexes by user and topic, and drops empty indexes on remove', async t => {
  const [a, b, c] = await socketPairs(t, 3) as [Pair, Pair, Pair]
  const manager = new ConnectionManager({ maxBufferedBytes: 1 << 20 })
  const alice1 = conn(a, 'c1', 'alice', ['news', 'orders'])
  const alice2 = conn(b, 'c2', 'alice', ['news'])
  const bob = conn(c, 'c3', 'bob')
  manager.add(alice1)
  manager.add(alice2)
  manager.add(bob)
  t.same([manager.connectionCount, manager.userCount, manager.topicCount], [3, 2, 2])
  t.equal(manager.connectionsOf('alice'), 2)
  t.equal(manager.connectionsOf('nobody'), 0)

  t.ok(manager.remove(alice1))
  t.notOk(manager.remove(alice1), 'a second remove is a no-op')
  t.same([manager.connectionCount, manager.userCount, manager.topicCount], [2, 2, 1])
  manager.remove(alice2)
  manager.remove(bob)
  t.same([manager.connectionCount, manager.userCount, manager.topicCount], [0, 0, 0])
  t.same([...manager.connections()], [])
})

t.test('send, publish and broadcast reach exactly their receivers and count them', async t => {
  const pairs = await socketPairs(t, 4)
  const [a, b, c, d] = pairs as [Pair, Pair, Pair, Pair]
  const manager = new ConnectionManager({ maxBufferedBytes: 1 << 20 })
  manager.add(conn(a, 'c1', 'alice', ['news']))
  manager.add(conn(b, 'c2', 'alice', [], 'text'))
  manager.add(conn(c, 'c3', 'bob', ['news', 'sport']))
  manager.add(conn(d, 'c4', 'carol', ['sport'], 'text'))

  const direct = new OutgoingMessage('zed', 'hi alice', { kind: 'direct', receiver: 'alice' })
  t.equal(manager.send('alice', direct), 2)
  t.equal(manager.send('nobody', direct), 0)
  const news = new OutgoingMessage('zed', 'breaking', { kind: 'topic', topic: 'news' })
  t.equal(manager.publish('news', news), 2)
  t.equal(manager.publish('empty', news), 0)
  const all = new OutgoingMessage('zed', 'to everyone', { kind: 'broadcast' })
  t.equal(manager.broadcast(all), 4)
  await delivered(pairs)

  const json = (m: OutgoingMessage) => m.encode('json').toString()
  t.same(a.frames, [json(direct), json(news), json(all)])
  t.same(b.frames, ['[zed]: hi alice', '[zed → all]: to everyone'])
  t.same(c.frames, [json(news), json(all)])
  t.same(d.frames, ['[zed → all]: to everyone'])
  t.same(JSON.parse(json(news)), { type: 'message', id: news.id, sender: 'zed', topic: 'news', message: 'breaking', sentAt: news.sentAt })
  t.same(JSON.parse(json(all)), { type: 'message', id: all.id, sender: 'zed', broadcast: true, message: 'to everyone', sentAt: all.sentAt })
  t.equal(news.encode('text').toString(), '[zed → #news]: breaking')
  t.equal(all.encode('json'), all.encode('json'), 'encoded once, the same Buffer every time')
})

t.test('a socket that is no longer open is skipped and not counted', async t => {
  const [a, b] = await socketPairs(t, 2) as [Pair, Pair]
  const manager = new ConnectionManager({ maxBufferedBytes: 1 << 20 })
  manager.add(conn(a, 'c1', 'alice'))
  manager.add(conn(b, 'c2', 'alice'))
  a.server.close()
  t.equal(manager.send('alice', new OutgoingMessage('x', 'y', { kind: 'direct', receiver: 'alice' })), 1)
})

t.test('a frame that would push a socket past maxBufferedBytes closes it with 1013 instead', async t => {
  const [a, b] = await socketPairs(t, 2) as [Pair, Pair]
  const slowOnes: string[] = []
  const manager = new ConnectionManager({ maxBufferedBytes: 100, onSlowConsumer: c => slowOnes.push(c.id) })
  manager.add(conn(a, 'c1', 'alice'))
  manager.add(conn(b, 'c2', 'bob'))
  const big = new OutgoingMessage('x', 'y'.repeat(200), { kind: 'broadcast' })
  const closed = once(a.client, 'close')
  t.equal(manager.send('alice', big), 0)
  t.same(slowOnes, ['c1'])
  t.equal(manager.connectionsOf('alice'), 0)
  t.equal(String((await closed)[0]), '1013')
  t.equal(manager.connectionsOf('bob'), 1)

  const withoutHook = new ConnectionManager({ maxBufferedBytes: 10 })
  withoutHook.add(conn(b, 'c2', 'bob'))
  t.equal(withoutHook.broadcast(big), 0, 'the hook is optional')
  t.equal(withoutHook.connectionCount, 0)
})

t.test('frames held for the end of the turn are not unread: only a peer that stops reading is a slow consumer', async t => {
  const [reader, stalled] = await socketPairs(t, 2) as [Pair, Pair]
  const slowOnes: string[] = []
  const manager = new ConnectionManager({ maxBufferedBytes: 4 * 1024, onSlowConsumer: c => slowOnes.push(c.id) })
  manager.add(conn(reader, 'c1', 'alice'))
  manager.add(conn(stalled, 'c2', 'bob'))
  ;(stalled.client as unknown as { _socket: { pause: () => void } })._socket.pause()
  await new Promise(resolve => setImmediate(resolve))
  // One turn: 256 KiB to each, 64 times maxBufferedBytes, which is itself below what a socket may hold (16 KiB).
  const kib = 'k'.repeat(1024)
  let toAlice = 0
  for (let i = 0; i < 256; i++) toAlice += manager.send('alice', new OutgoingMessage('x', kib, { kind: 'direct', receiver: 'alice' }))
  for (let i = 0; i < 256 * 64 && slowOnes.length === 0; i++) manager.send('bob', new OutgoingMessage('x', kib, { kind: 'direct', receiver: 'bob' }))
  t.equal(toAlice, 256, 'a peer that reads takes every frame')
  t.same(slowOnes, ['c2'], 'the stalled peer is closed once the kernel holds all it will')
  await delivered([reader])
  t.equal(reader.frames.length, 256, 'and all 256 frames arrive')
})

t.test('a message received from another node reuses its JSON frame: encoded once per publish, cluster-wide', async t => {
  const sent = new OutgoingMessage('zed', 'héllo', { kind: 'topic', topic: 'news' })
  const wire = sent.encode('json')
  const received = OutgoingMessage.fromFrame(wire)
  t.equal(received.encode('json'), wire, 'the very Buffer from Redis, not a re-serialization')
  t.same([received.id, received.sentAt, received.sender, received.text, received.target], [sent.id, sent.sentAt, 'zed', 'héllo', { kind: 'topic', topic: 'news' }])
  t.equal(received.encode('text').toString(), '[zed → #news]: héllo')
  t.same(OutgoingMessage.fromFrame(new OutgoingMessage('a', 'b', { kind: 'broadcast' }).encode('json')).target, { kind: 'broadcast' })
  t.same(OutgoingMessage.fromFrame(new OutgoingMessage('a', 'b', { kind: 'direct', receiver: 'r' }).encode('json')).target, { kind: 'direct', receiver: 'r' })
})

t.test('frames of every header size reach a real ws client intact: 7-bit, 16-bit and 64-bit lengths', async t => {
  const [a] = await socketPairs(t, 1) as [Pair]
  const manager = new ConnectionManager({ maxBufferedBytes: 1 << 20 })
  manager.add(conn(a, 'c1', 'alice', [], 'text'))
  // The text line adds "[x]: " (5 bytes) to the message: payloads of 125, 126, 65535 and 65536 bytes, and UTF-8.
  const texts = [120, 121, 65530, 65531].map(n => 'y'.repeat(n)).concat(['héllo 🎉'])
  for (const text of texts) manager.send('alice', new OutgoingMessage('x', text, { kind: 'direct', receiver: 'alice' }))
  // (A pong round trip does not order the server's frames; a malformed frame would close the client instead.)
  await until(() => a.frames.length >= texts.length || a.client.readyState !== WebSocket.OPEN, 'every frame arrives, or the client closes on a malformed one', { intervalMs: 5 })
  t.same(a.frames.map(f => f.length), [125, 126, 65535, 65536, 13])
  t.equal(a.frames[4], '[x]: héllo 🎉')
  const message = new OutgoingMessage('x', 'y', { kind: 'broadcast' })
  t.equal(message.frame('json'), message.frame('json'), 'framed once, the same Buffer for every socket')
  const frame = message.frame('json')
  t.same([frame[0], frame[1], frame.readUInt16BE(2)], [0x81, 126, message.encode('json').length], 'FIN text frame, 16-bit length')
  t.same(frame.subarray(4), message.encode('json'), 'then the payload')
  for (const n of [1, 200, 70_000]) {
    const long = new OutgoingMessage('x', 'y'.repeat(n), { kind: 'direct', receiver: 'r' })
    t.equal(long.encode('text').toString(), `[x]: ${'y'.repeat(n)}`, `a ${n}-character payload seen through its frame`)
  }
})
