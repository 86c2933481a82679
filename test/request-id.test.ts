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

t.test('a WebSocket connection id is its upgrade request id, in every log line about it', async t => {
  const logs = new LogCapture()
  const server = await listen(t, {}, logs)
  const client = await connect(t, server, '/ws/alice', { headers: { 'x-request-id': 'conn-7' } })
  client.ws.close()
  await client.closed
  await until(() => logs.find('ws closed') !== undefined, 'the close is logged', { intervalMs: 5 })
  t.match(logs.find('ws connected'), { connId: 'conn-7', userId: 'alice' })
  t.match(logs.find('ws closed'), { connId: 'conn-7', userId: 'alice' })
})

t.test('the 101 carries X-Request-Id too, so a client can quote the connId its connection is logged under', async t => {
  const logs = new LogCapture()
  const server = await listen(t, {}, logs)
  const seen: string[] = []
  for (const headers of [{ 'x-request-id': 'conn-8' }, {}]) {
    const ws = new WebSocket(`${server.wsUrl}/ws/alice`, { headers })
    t.teardown(() => ws.terminate())
    const [response] = await once(ws, 'upgrade') as [IncomingMessage]
    seen.push(response.headers['x-request-id'] as string)
  }
  t.equal(seen[0], 'conn-8')
  t.match(seen[1], /^[0-9a-f-]{36}$/)
  await until(() => logs.lines.filter(line => line.msg === 'ws connected').length >= 2, 'both connections are logged', { intervalMs: 5 })
  t.same(logs.lines.filter(line => line.msg === 'ws connected').map(line => line.connId), seen, 'the same id as in the log')
})
