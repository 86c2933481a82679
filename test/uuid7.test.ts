import t from 'tap'
import { isoNow, uuidv7, type Uuid7State } from '../src/uuid7.js'

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

t.test('UUIDv7: the timestamp up front, then ids that always increase, across many pool refills', async t => {
  const now = Date.UTC(2026, 10, 22, 1, 2, 3, 4)
  const first = uuidv7(now)
  t.match(first, V7)
  t.equal(parseInt(first.replace(/-/g, '').slice(0, 12), 16), now, 'the first 48 bits are the millisecond')
  let previous = first
  const seen = new Set([first])
  // Same millisecond, then the next ones: a counter keeps the order; 5000 ids use the random pool up several times.
  for (let i = 0; i < 5000; i++) {
    const id = uuidv7(now + Math.floor(i / 1000))
    if (!V7.test(id) || id <= previous) t.fail(`${id} after ${previous}`)
    seen.add(id)
    previous = id
  }
  t.equal(seen.size, 5001, 'all distinct')
})

t.test('UUIDv7: a clock that steps back keeps counting up; a full counter borrows the next millisecond', async t => {
  const state: Uuid7State = { ms: -Infinity, seq: 0, prefix: '' }
  const a = uuidv7(2000, state)
  const b = uuidv7(1000, state)
  t.ok(b > a, 'still after the earlier id')
  t.equal(state.ms, 2000)
  state.seq = 0xffffffff
  const c = uuidv7(2000, state)
  t.ok(c > b)
  t.same([state.ms, state.seq], [2001, 0])
  t.equal(parseInt(c.replace(/-/g, '').slice(0, 12), 16), 2001)
  t.equal(c.slice(14, 23), '7000-8000', 'the counter bits start again at zero')
})

t.test('UUIDv7: the timestamp is the millisecond for any 48-bit time, short or past 32 bits', async t => {
  for (const ms of [0, 1, 0xfff, 0xffffffff, 2 ** 32, 2 ** 32 + 1, Date.UTC(2026, 10, 22, 13, 2, 5, 999), 2 ** 48 - 1]) {
    const state: Uuid7State = { ms: -Infinity, seq: 0, prefix: '' }
    const id = uuidv7(ms, state)
    t.match(id, V7, `${ms}`)
    t.equal(id.slice(0, 13), ms.toString(16).padStart(12, '0').replace(/^(.{8})/, '$1-'), `${ms}: the first 48 bits`)
  }
})

t.test('isoNow: ISO-8601 UTC, as Date#toISOString writes it', async t => {
  t.equal(isoNow(0), '1970-01-01T00:00:00.000Z')
  t.equal(isoNow(1), '1970-01-01T00:00:00.001Z')
  t.match(isoNow(), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  // Across second, minute and day boundaries, forwards and back (a clock that steps back), and at random times.
  const times = [999, 1000, 1001, 59_999, 60_000, 86_399_999, 86_400_000, 86_399_999, 1000, 999]
  for (let i = 0; i < 2000; i++) times.push(Math.floor(Math.random() * Date.UTC(2200, 0, 1)))
  const wrong = times.filter(ms => isoNow(ms) !== new Date(ms).toISOString())
  t.same(wrong, [], 'the same text as Date#toISOString')
})
