import { once } from 'node:events'
import { connect as connectTcp } from 'node:net'
import t from 'tap'
import { build, connect, listen } from '../helper.js'

t.test('/health and /ready answer 200 while serving', async t => {
  const app = await build(t)
  t.same((await app.inject('/health')).json(), { status: 'ok' })
  const ready = await app.inject('/ready')
  t.equal(ready.statusCode, 200)
  t.same(ready.json(), { status: 'ready' })
})

t.test('shutdown: /ready answers 503 while sockets drain, then every socket is closed with 1001', async t => {
  const server = await listen(t, { shutdownTimeoutMs: 1000 })
  const polite = await connect(t, server, '/ws/alice')
  // This client stops reading, so it cannot answer the close frame and keeps the server draining.
  const stuck = await connect(t, server, '/ws/bob')
  const raw = (stuck.ws as unknown as { _socket: { pause: () => void, resume: () => void } })._socket
  raw.pause()

  const closing = server.app.close()
  t.same(await polite.closed, { code: 1001, reason: 'server shutting down' })
  // Regression: Fastify's own 503 said only "Service Unavailable" and carried no X-Request-Id.
  const ready = await fetch(`${server.url}/ready`, { headers: { 'x-request-id': 'during-1' } })
  t.same([ready.status, ready.headers.get('x-request-id'), ready.headers.get('connection')], [503, 'during-1', 'close'])
  // Regression: no Retry-After, so HTTP clients that follow it on a 503 fell back to their own backoff.
  t.equal(ready.headers.get('retry-after'), '1', 'a balancer has another node ready, or this one is back, soon')
  t.same(await ready.json(), { statusCode: 503, error: 'Service Unavailable', message: 'shutting down: this request was not handled; retry on another node' })
  const send = await fetch(`${server.url}/send-message`, { method: 'POST' })
  t.same([send.status, typeof send.headers.get('x-request-id')], [503, 'string'], 'new requests are turned away too')
  // A page can read it too (regression: it had no CORS headers, and its preflight got the same 503).
  const origin = 'https://page.example.com'
  const fromPage = await fetch(`${server.url}/send-message`, { method: 'POST', headers: { origin, 'content-type': 'application/json' }, body: '{}' })
  t.same([fromPage.status, fromPage.headers.get('access-control-allow-origin')], [503, '*'])
  t.match(fromPage.headers.get('access-control-expose-headers'), /X-Request-Id/)
  const preflight = await fetch(`${server.url}/send-message`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } })
  t.same([preflight.status, preflight.headers.get('access-control-allow-origin'), preflight.headers.get('access-control-allow-methods')], [204, '*', 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, *'])

  await closing
  t.equal(server.app.connections.connectionCount, 0, 'close finished without the stuck client answering')
  raw.resume()
  t.same(await stuck.closed, { code: 1001, reason: 'server shutting down' }, 'the close frame was queued for it too')
  t.equal(server.app.connections.connectionCount, 0)
  t.equal(server.app.connections.userCount, 0)
})

t.test('shutdown lets an in-flight POST finish before the server closes', async t => {
  const server = await listen(t)
  const { port } = server.app.server.address() as { port: number }
  const body = JSON.stringify({ sender: 'a', receiver: 'b', message: 'in flight' })
  const socket = connectTcp(port, '127.0.0.1')
  let response = ''
  socket.on('data', (chunk: Buffer) => { response += chunk.toString() })
  const routed = once(server.app.server, 'request')
  // Headers and half the body: the request is routed and its handler waits for the rest.
  socket.write(`POST /send-message HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 10)}`)
  await routed
  const closing = server.app.close()
  socket.write(body.slice(10))
  while (!response.endsWith('}')) await once(socket, 'data')
  socket.destroy()
  await closing
  t.match(response, /^HTTP\/1\.1 200 /)
  t.match(response, /"status":"offline"/)
})
