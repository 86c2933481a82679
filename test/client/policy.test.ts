import t from 'tap'
import { afterClose, afterRefusal, backoffDelay, MAX_TIMER_MS, refreshDelay, tokenExpiry } from '../../src/client/policy.js'
import { CLOSE, CLOSE_CODES } from '../../src/close-codes.js'
import { Emitter } from '../../src/client/emitter.js'
import { RecentIds } from '../../src/client/recent-ids.js'
import { uncaught } from './recorder.js'

t.test('close codes: reconnect, refresh the token, or stop', async t => {
  for (const code of [1000, 1001, 1005, 1006, 1011, 1012, 1013, 1014]) t.equal(afterClose(code), 'reconnect', String(code))
  t.equal(afterClose(4001), 'refresh')
  for (const code of [1002, 1003, 1007, 1008, 1009, 1010, 4000, 4002, 4999]) t.equal(afterClose(code), 'stop', String(code))
})

t.test('the client does what the server\'s close-code table tells clients to do', async t => {
  const expected = {
    goingAway: 'reconnect',
    protocolError: 'stop',
    invalidPayload: 'stop',
    policyViolation: 'stop',
    messageTooBig: 'stop',
    slowConsumer: 'reconnect',
    tokenExpired: 'refresh',
    abnormal: 'reconnect'
  } satisfies Record<keyof typeof CLOSE, string>
  t.equal(CLOSE_CODES.length, Object.keys(expected).length, 'every code the server can close with is checked')
  for (const [name, action] of Object.entries(expected)) {
    t.equal(afterClose(CLOSE[name as keyof typeof CLOSE].code), action, name)
  }
})

t.test('refused upgrades: 401 refreshes, client mistakes stop, the rest retry', async t => {
  t.equal(afterRefusal(401), 'refresh')
  for (const status of [400, 403, 404]) t.equal(afterRefusal(status), 'stop', String(status))
  for (const status of [null, 426, 429, 500, 502, 503]) t.equal(afterRefusal(status), 'reconnect', String(status))
})

t.test('backoff: full jitter under a ceiling that doubles up to the cap', async t => {
  const top = () => 0.999999
  t.same([0, 1, 2, 3, 4, 5, 6].map(n => backoffDelay(n, 100, 1000, top)), [99, 199, 399, 799, 999, 999, 999])
  t.equal(backoffDelay(5, 100, 1000, () => 0), 0, 'full jitter reaches zero')
  t.equal(backoffDelay(1e6, 100, 30_000, top), 29_999, 'a huge attempt count stays finite')
  const delays = Array.from({ length: 500 }, () => backoffDelay(3, 100, 1000))
  t.same(delays.filter(delay => !(delay >= 0 && delay < 800)), [], 'Math.random delays stay in [0, 800)')
  t.ok(new Set(delays).size > 100, 'and are spread out')
})

t.test('recent ids: repeats are refused while remembered, the oldest is forgotten first', async t => {
  const ids = new RecentIds(3)
  t.same(['a', 'b', 'a', 'c'].map(id => ids.add(id)), [true, true, false, true])
  t.equal(ids.add('d'), true, 'a is evicted')
  t.equal(ids.add('a'), true, 'a was forgotten')
  t.equal(ids.add('c'), false, 'c is still remembered')
  t.equal(ids.add('b'), true, 'b went before c')

  // A window of 0 turns dedupe off and remembers nothing (it used to keep every id: 1 % 0 is NaN).
  const off = new RecentIds(0)
  t.same(['a', 'a', 'a'].map(id => off.add(id)), [true, true, true])
})

/** An emitter whose ping events a test fires itself. */
class Events extends Emitter<{ ping: number }> {
  fire (n: number): void { this.emit('ping', n) }
}

t.test('emitter: on returns the remover, off removes, an event nobody listens to is fine', async t => {
  const events = new Events()
  events.fire(0)
  const seen: number[] = []
  const remove = events.on('ping', n => seen.push(n))
  const double = (n: number): void => { seen.push(n * 2) }
  events.on('ping', double)
  events.fire(1)
  remove()
  events.fire(2)
  events.off('ping', double)
  events.off('ping', double)
  events.fire(3)
  t.same(seen, [1, 2, 4])
})

t.test('emitter: a listener that throws does not stop the others, and its error is rethrown where it shows as uncaught', async t => {
  const errors = uncaught(t)
  const events = new Events()
  const seen: number[] = []
  const boom = new Error('boom')
  events.on('ping', () => { throw boom })
  events.on('ping', n => seen.push(n))
  t.doesNotThrow(() => events.fire(1), 'emit itself does not throw')
  t.same(seen, [1], 'the next listener ran')
  t.same(errors, [], 'not reported synchronously')
  await new Promise(resolve => setImmediate(resolve))
  t.equal(errors[0], boom, 'the very error, reported once')
  t.equal(errors.length, 1)
})

t.test('a connection is replaced ahead of its token\'s expiry: 30 s ahead, or a quarter of what is left', async t => {
  const now = 1_700_000_000_000
  t.equal(refreshDelay(now + 3600_000, now), 3570_000, 'an hour: 30 s ahead')
  t.equal(refreshDelay(now + 60_000, now), 45_000, 'a minute: 15 s ahead')
  t.equal(refreshDelay(now + 2000, now), 1500)
  t.equal(refreshDelay(now + 999, now), undefined, 'under a second left: left to expire, then 4001')
  t.equal(refreshDelay(now - 5000, now), undefined, 'expired by this clock (ahead of the server\'s): left to the 4001')
  t.equal(refreshDelay(NaN, now), undefined)
  t.equal(refreshDelay(now + 400 * 86_400_000, now), MAX_TIMER_MS, 'beyond a timer\'s reach: as late as a timer goes')
})

t.test('a token\'s expiry is read from a JWT payload, base64url and unpadded; anything else has none', async t => {
  const jwt = (payload: unknown) => `eyJhbGciOiJIUzI1NiJ9.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.sig`
  t.equal(tokenExpiry(jwt({ sub: 'alice', exp: 1_700_000_000 })), 1_700_000_000_000)
  // "ü>?" has bytes that base64url writes as "-" and "_".
  t.equal(tokenExpiry(jwt({ sub: 'ü>?ü>?', exp: 1_700_000_001 })), 1_700_000_001_000)
  for (const token of ['opaque-token', 'a.b.c', jwt({ sub: 'alice' }), jwt({ exp: '1700000000' }), jwt(null), jwt([1]), 'a.!!!.c']) {
    t.equal(tokenExpiry(token), undefined, token)
  }
})
