import { once } from 'node:events'
import type { IncomingMessage } from 'node:http'
import t from 'tap'
import WebSocket from 'ws'
import { connect, listen, LogCapture, post, until } from './helper.js'

t.test('a sane incoming X-Request-Id is honoured, returned and logged; others are replaced', async t => {
  const logs = new LogCapture()
  const server = await listen(t, {}, logs)
  const body = { sender: 'a', receiver: 'nobody', message: 'x' }
  const honoured = await post(server, '/send-message', body, { 'x-request-id': 'trace-42:abc/DEF=' })
  t.equal(honoured.headers.get('x-request-id'), 'trace-42:abc/DEF=')
  t.match(logs.lines.find(line => line.msgId === honoured.body.id), { reqId: 'trace-42:abc/DEF=' })

  for (const bad of ['x'.repeat(129), 'has space', 'semi;colon']) {
    const res = await post(server, '/send-message', body, { 'x-request-id': bad })
    const id = res.headers.get('x-request-id') as string
    t.match(id, /^[0-9a-f-]{36}$/, `${bad.slice(0, 10)}… replaced by a UUID`)
    t.match(logs.lines.find(line => line.msgId === res.body.id), { reqId: id })
  }
  const generated = await fetch(`${server.url}/health`)
  t.match(generated.headers.get('x-request-id'), /^[0-9a-f-]{36}$/)
  const errors = await fetch(`${server.url}/nope`, { headers: { 'x-request-id': 'err-1' } })
  t.equal(errors.headers.get('x-request-id'), 'err-1', 'errors carry it too')
})

t.test('a WebSocket connection id is its upgrade request id, made unique when the client chose it, in every log line about it', async t => {
  // Regression: a client that sent one X-Request-Id on every upgrade had all its connections logged as one.
  const logs = new LogCapture()
  const server = await listen(t, {}, logs)
  const clients = [await connect(t, server, '/ws/alice', { headers: { 'x-request-id': 'conn-7' } }), await connect(t, server, '/ws/bob', { headers: { 'x-request-id': 'conn-7' } })]
  for (const client of clients) {
    client.ws.close()
    await client.closed
  }
  await until(() => logs.lines.filter(line => line.msg === 'ws closed').length === 2, 'the closes are logged', { intervalMs: 5 })
  const ids = (msg: string) => logs.lines.filter(line => line.msg === msg).map(line => `${String(line.userId)} ${String(line.connId)}`).sort()
  const connected = ids('ws connected')
  t.equal(connected.length, 2)
  t.match(connected, [/^alice conn-7~[0-9a-f]{8}$/, /^bob conn-7~[0-9a-f]{8}$/])
  t.not(connected[0]?.split(' ')[1], connected[1]?.split(' ')[1], 'two connections, two ids')
  t.same(ids('ws closed'), connected)
})

t.test('the 101 carries X-Request-Id too, so a client can quote the connection it is logged under', async t => {
  const logs = new LogCapture()
  const server = await listen(t, {}, logs)
  const seen: string[] = []
  for (const headers of [{ 'x-request-id': 'conn-8' }, {}]) {
    const ws = new WebSocket(`${server.wsUrl}/ws/alice`, { headers })
    t.teardown(() => ws.terminate())
    const [response] = await once(ws, 'upgrade') as [IncomingMessage]
    seen.push(response.headers['x-request-id'] as string)
  }
  t.match(seen[0], /^conn-8~[0-9a-f]{8}$/, 'the id the client chose, with a suffix of its own')
  t.match(seen[1], /^[0-9a-f-]{36}$/)
  await until(() => logs.lines.filter(line => line.msg === 'ws connected').length >= 2, 'both connections are logged', { intervalMs: 5 })
  t.same(logs.lines.filter(line => line.msg === 'ws connected').map(line => line.connId), seen, 'the same id as in the log')
})
