// A client that never finishes its request gets a 408 and is disconnected: it cannot hold a socket forever.
import t from 'tap'
import { once } from 'node:events'
import { connect as tcpConnect } from 'node:net'
import { timeoutCheckInterval } from '../src/listener.js'
import { listen, rawExchange, until } from './helper.js'

t.test('a body that never arrives in full is answered 408 with a JSON error, and the socket is closed', async t => {
  const server = await listen(t, { requestTimeoutMs: 300 })
  // Node would check only every 30 s, and swap the two timeouts if the headers' were the longer: both are set.
  t.ok(server.app.server.headersTimeout <= 300, `headersTimeout ${server.app.server.headersTimeout}`)
  const started = Date.now()
  const answer = await rawExchange(t, server, 'POST /send-message HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"sender":')
  t.match(answer, /^HTTP\/1\.1 408 Request Timeout\r\n/)
  t.match(answer, /\r\nx-request-id: [0-9a-f-]{36}\r\n/)
  t.same(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)), { statusCode: 408, error: 'Request Timeout', message: 'the request did not arrive in full within 300 ms (REQUEST_TIMEOUT_MS)' })
  // Not a speed figure: without the checking interval this took 90 s.
  t.ok(Date.now() - started < 10_000, 'answered within seconds, not at Node\'s 30 s check')
})

t.test('requests are checked against their timeout often enough for a 408 at most 10 % (and 1 s) late', async t => {
  // Regression: the check ran every timeout (at most every second), so a 1 s timeout answered after up to 2 s.
  const cases = [[1, 10], [300, 30], [1000, 100], [9999, 1000], [30_000, 1000], [3_600_000, 1000]]
  t.same(cases.map(([timeout]) => [timeout, timeoutCheckInterval(timeout as number)]), cases)
})

t.test('the default gives a slow client 30 s for the whole request', async t => {
  const server = await listen(t)
  t.equal(server.app.server.requestTimeout, 30_000)
})

t.test('an error answered before its body arrived gets no 408 on top when the body never comes', async t => {
  // Regression: a 401 or 415 went out at once, and the unread body's timeout then wrote a second, unrequested 408 on
  // the same connection.
  const server = await listen(t, { requestTimeoutMs: 300 })
  const answer = await rawExchange(t, server, 'POST /send-message HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n0123456789')
  t.match(answer, /^HTTP\/1\.1 415 /)
  t.equal(answer.match(/HTTP\/1\.1 \d{3} /g)?.length, 1, 'one answer')

  // When the body does come, the connection goes on as usual, and a later request that stalls gets its 408.
  const { port } = new URL(server.url)
  const socket = tcpConnect(Number(port), '127.0.0.1')
  t.teardown(() => socket.destroy())
  let received = ''
  socket.on('data', (chunk: Buffer) => { received += chunk.toString() })
  socket.write('POST /send-message HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\n01234')
  await until(() => received.includes('HTTP/1.1 415 '), 'the early 415')
  socket.write('56789')
  socket.write('POST /send-message HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{')
  await once(socket, 'close')
  t.same(received.match(/HTTP\/1\.1 \d{3}/g), ['HTTP/1.1 415', 'HTTP/1.1 408'])
})
