// A client that never finishes its request gets a 408 and is disconnected: it cannot hold a socket forever.
import t from 'tap'
import { listen, rawExchange } from './helper.js'

t.test('a body that never arrives in full is answered 408 with a JSON error, and the socket is closed', async t => {
  const server = await listen(t, { requestTimeoutMs: 300 })
  const answer = await rawExchange(t, server, 'POST /send-message HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"sender":')
  t.match(answer, /^HTTP\/1\.1 408 Request Timeout\r\n/)
  t.match(answer, /\r\n\r\n\{"error":"Request Timeout","message":"Client Timeout","statusCode":408\}$/)
})

t.test('the default gives a slow client 30 s for the whole request', async t => {
  const server = await listen(t)
  t.equal(server.app.server.requestTimeout, 30_000)
})
