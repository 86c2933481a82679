// Frames and how they are written: real ws sockets on both ends, checked on the TCP socket and on the wire.
import { once } from 'node:events'
import t from 'tap'
import { HELD_FAN_OUT_AT_MOST, WRITTEN_AT_ONCE, framePayload, textFrame, writeFrame } from '../src/ws-frame.js'
import { delivered, socketPairs, type Pair } from './socket-pairs.js'

/** Starts a fresh event-loop turn's count: held sockets of earlier writes are released before this resolves. */
const nextTurn = async (): Promise<void> => await new Promise(resolve => setImmediate(resolve))

t.test('textFrame picks the 2, 4 or 10 byte header by length, and framePayload reads the payload back', async t => {
  for (const length of [0, 125, 126, 65535, 65536]) {
    const payload = 'x'.repeat(length)
    const frame = textFrame(payload)
    t.equal(frame.length - length, length < 126 ? 2 : length < 65536 ? 4 : 10, `header for ${length}`)
    t.equal(frame[0], 0x81)
    t.equal(framePayload(frame).toString(), payload)
    t.same(textFrame(Buffer.from(payload)), frame, 'a Buffer payload makes the same frame')
  }
})

t.test('the first frames of a turn go out at once; later ones are held until the turn ends, then all arrive', async t => {
  const pairs = await socketPairs(t, WRITTEN_AT_ONCE + 2)
  await nextTurn()
  pairs.forEach((pair, i) => writeFrame(pair.server, textFrame(`m${i}`), 1))
  const atOnce = pairs.slice(0, WRITTEN_AT_ONCE)
  const later = pairs.slice(WRITTEN_AT_ONCE)
  t.ok(atOnce.every(p => p.tcp.writableCorked === 0 && p.tcp.writableLength === 0), 'handed to the kernel at once')
  t.ok(later.every(p => p.tcp.writableCorked === 1), 'held')
  t.ok(later.every(p => p.server.bufferedAmount === 4), 'held bytes count as buffered, for the slow-consumer check')

  await nextTurn()
  t.ok(pairs.every(p => p.tcp.writableCorked === 0 && p.tcp.writableLength === 0), 'released when the turn ends')
  await delivered(pairs)
  t.same(pairs.map(p => p.frames), pairs.map((_, i) => [`m${i}`]))
})

t.test('a held socket keeps the order of its frames and of ws\'s own writes between them', async t => {
  const [first, held] = await socketPairs(t, 2) as [Pair, Pair]
  await nextTurn()
  for (let i = 0; i < WRITTEN_AT_ONCE; i++) writeFrame(first.server, textFrame(`a${i}`), 1)
  writeFrame(held.server, textFrame('b0'), 1)
  held.server.send('from ws') // ws's own write, while the socket is held
  writeFrame(held.server, textFrame('b1'), 1)
  t.equal(held.tcp.writableCorked, 1, 'held once, not once per frame')
  await delivered([held])
  t.same(held.frames, ['b0', 'from ws', 'b1'])
  await delivered([first])
  t.same(first.frames, ['a0', 'a1', 'a2', 'a3'])
})

t.test('closing a held socket in the same turn still sends its frames before the close', async t => {
  const pairs = await socketPairs(t, WRITTEN_AT_ONCE + 1)
  const last = pairs[WRITTEN_AT_ONCE] as Pair
  const client = once(last.server, 'close')
  await nextTurn()
  pairs.forEach((pair, i) => writeFrame(pair.server, textFrame(`m${i}`), 1))
  t.equal(last.tcp.writableCorked, 1)
  last.server.close(1001, 'going away')
  await client
  t.same(last.frames, [`m${WRITTEN_AT_ONCE}`])
})

t.test('a delivery wider than HELD_FAN_OUT_AT_MOST is written at once, and after what a socket holds', async t => {
  const pairs = await socketPairs(t, WRITTEN_AT_ONCE + 2)
  const [held, wide] = pairs.slice(WRITTEN_AT_ONCE) as [Pair, Pair]
  await nextTurn()
  pairs.forEach((pair, i) => writeFrame(pair.server, textFrame(`m${i}`), 1))
  const fanOut = HELD_FAN_OUT_AT_MOST + 1
  const wideFrame = textFrame('wide')
  writeFrame(wide.server, wideFrame, fanOut)
  t.equal(wide.tcp.writableCorked, 1, 'held by its earlier frame')
  wide.tcp.uncork() // as the end of the turn would
  t.equal(wide.tcp.writableLength, 0)
  writeFrame(wide.server, wideFrame, fanOut)
  t.equal(wide.tcp.writableCorked, 0, 'not held again by the wide delivery')
  t.equal(wide.tcp.writableLength, 0, 'handed to the kernel at once, late in a busy turn')
  writeFrame(held.server, wideFrame, fanOut)
  t.equal(held.tcp.writableCorked, 1, 'a held socket stays held')
  await delivered(pairs)
  t.same(held.frames, [`m${WRITTEN_AT_ONCE}`, 'wide'], 'in order')
  t.same(wide.frames, [`m${WRITTEN_AT_ONCE + 1}`, 'wide', 'wide'])
})

t.test('a socket holding its high-water mark is released at once, mid-turn, and held again for later frames', async t => {
  const pairs = await socketPairs(t, WRITTEN_AT_ONCE + 1)
  const last = pairs[WRITTEN_AT_ONCE] as Pair
  await nextTurn()
  for (const pair of pairs.slice(0, WRITTEN_AT_ONCE)) writeFrame(pair.server, textFrame('x'), 1)
  const kib = textFrame('k'.repeat(1020))
  const toMark = Math.ceil(last.tcp.writableHighWaterMark / kib.length)
  for (let i = 0; i < toMark - 1; i++) writeFrame(last.server, kib, 1)
  t.equal(last.tcp.writableCorked, 1, 'held below the mark')
  writeFrame(last.server, kib, 1)
  t.equal(last.tcp.writableCorked, 0, 'released on reaching it')
  writeFrame(last.server, kib, 1)
  t.equal(last.tcp.writableCorked, 1, 'held again')
  await delivered([last])
  t.equal(last.frames.length, toMark + 1, 'every frame arrives')
})
