// GET /ws/:userId against a real listening server with real ws clients.
import { once } from 'node:events'
import { connect as connectTcp } from 'node:net'
import t from 'tap'
import WebSocket from 'ws'
import { guard } from '../../src/routes/ws.js'
import { MAX_CLIENT_FRAGMENTS } from '../../src/schemas/ws.js'
import type { Connection } from '../../src/connection-manager.js'
import { connect, listen, LogCapture, post, rawExchange, refusedUpgrade, until } from '../helper.js'

t.test('a POST after open is pushed as one JSON frame with every field', async t => {
  const server = await listen(t)
  const alice = await connect(t, server, '/ws/alice')
  const message = '안녕하세요 🎉 <b>"exactly"</b>\\n  as sent  '
  const res = await post(server, '/send-message', { sender: 'bob', receiver: 'alice', message })
  t.same(res.body, { status: 'sent', id: res.body.id })
  const frame = await alice.nextJson()
  t.same(Object.keys(frame), ['type', 'id', 'sender', 'receiver', 'message', 'sentAt'])
  t.same(frame, { type: 'message', id: res.body.id, sender: 'bob', receiver: 'alice', message, sentAt: frame.sentAt })
  t.match(frame.sentAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
})

t.test('?format=text pushes the plain line "[sender]: message"', async t => {
  const server = await listen(t)
  const json = await connect(t, server, '/ws/alice?format=json')
  const text = await connect(t, server, '/ws/alice?format=text')
  await post(server, '/send-message', { sender: 'bob', receiver: 'alice', message: 'hi 👋' })
  t.same(await text.waitFor(1), ['[bob]: hi 👋'])
  t.equal((await json.nextJson()).message, 'hi 👋')
})

t.test('bad upgrades are refused with a JSON 4xx before any 101', async t => {
  const server = await listen(t)
  const bad: Array<[string, string]> = [
    ['/ws/al%20ice', 'params/userId must contain only A-Z a-z 0-9 _ - . @ :'],
    [`/ws/${'a'.repeat(65)}`, 'params/userId must not have more than 64 characters'],
    ['/ws/alice?format=xml', 'querystring/format must be one of json, text'],
    ['/ws/alice?fromat=text', 'querystring/fromat is not an allowed field']
  ]
  for (const [path, message] of bad) {
    const res = await refusedUpgrade(server, path)
    t.same(res, { status: 400, body: { statusCode: 400, error: 'Bad Request', message } }, path)
  }
  t.equal(server.app.connections.connectionCount, 0)
})

t.test('"." and ".." are no user ids: a URL resolves them as path steps, so no browser could reach them', async t => {
  // Sent raw: every WebSocket client and fetch() would resolve /ws/.. to / before sending it.
  const server = await listen(t)
  for (const id of ['.', '..', '%2E%2E', '%2e']) {
    const answer = await rawExchange(t, server, `GET /ws/${id} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nConnection: close\r\n\r\n')
    t.match(answer, /^HTTP\/1\.1 400 /, id)
    t.match(answer, /"message":"params\/userId must not be \\".\\" or \\"..\\""/)
  }
  t.equal(server.app.connections.connectionCount, 0)
  t.match(await rawExchange(t, server, 'GET /ws/... HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'), /^HTTP\/1\.1 426 /, 'three dots are an id like any other')
})

t.test('permessage-deflate is never negotiated, even when the client offers it (README: Compression)', async t => {
  const server = await listen(t)
  const ws = new WebSocket(`${server.wsUrl}/ws/deflate`, { perMessageDeflate: true })
  t.teardown(() => ws.terminate())
  await once(ws, 'open')
  t.equal(ws.extensions, '', 'the 101 names no extension')
})

t.test('a plain GET without an upgrade is told to upgrade (426)', async t => {
  const server = await listen(t)
  const res = await fetch(`${server.url}/ws/alice`)
  t.equal(res.status, 426)
  t.equal(res.headers.get('upgrade'), 'websocket')
  t.match(await res.json(), { statusCode: 426, error: 'Upgrade Required' })
})

t.test('registration happens before open: a POST right after open always arrives (200 rounds)', async t => {
  const server = await listen(t)
  for (let i = 0; i < 200; i++) {
    const ws = new WebSocket(`${server.wsUrl}/ws/race-${i}`)
    await once(ws, 'open')
    const frame = once(ws, 'message')
    const res = await post(server, '/send-message', { sender: 'bob', receiver: `race-${i}`, message: `m${i}` })
    if (res.body.status !== 'sent') t.fail(`round ${i} answered ${String(res.body.status)}`)
    const [data] = await frame as [Buffer]
    if (JSON.parse(data.toString()).message !== `m${i}`) t.fail(`round ${i} got the wrong frame`)
    ws.close()
    await once(ws, 'close')
  }
  t.pass('all 200 rounds delivered')
})

t.test('two tabs of one user both receive; closing one keeps the other registered', async t => {
  const server = await listen(t)
  const tab1 = await connect(t, server, '/ws/alice')
  const tab2 = await connect(t, server, '/ws/alice')
  await post(server, '/send-message', { sender: 'bob', receiver: 'alice', message: 'to both' })
  t.equal((await tab1.nextJson()).message, 'to both')
  t.equal((await tab2.nextJson()).message, 'to both')

  tab1.ws.close()
  await tab1.closed
  await until(() => server.app.connections.connectionsOf('alice') === 1, 'the closed tab is unregistered', { intervalMs: 5 })
  t.equal(server.app.connections.connectionsOf('alice'), 1, 'the other tab is still registered')
  const res = await post(server, '/send-message', { sender: 'bob', receiver: 'alice', message: 'to tab 2' })
  t.equal(res.body.status, 'sent')
  t.equal((await tab2.nextJson()).message, 'to tab 2')
  t.equal(tab1.frames.length, 1)
})

t.test('one connection over MAX_CONNECTIONS_PER_USER is refused with 429 before the upgrade', async t => {
  const server = await listen(t, { maxConnectionsPerUser: 2 })
  await connect(t, server, '/ws/alice')
  await connect(t, server, '/ws/alice')
  const res = await refusedUpgrade(server, '/ws/alice')
  t.same(res, { status: 429, body: { statusCode: 429, error: 'Too Many Requests', message: 'user alice already has 2 open connections (MAX_CONNECTIONS_PER_USER)' } })
  await connect(t, server, '/ws/bob')
  t.equal(server.app.connections.connectionsOf('alice'), 2)
})

t.test('the channel is receive-only: a client frame gets an error frame back', async t => {
  const server = await listen(t)
  const alice = await connect(t, server, '/ws/alice')
  alice.ws.send('hello?')
  t.same(await alice.nextJson(), { type: 'error', message: 'receive-only: send with POST /send-message' })
  t.equal(alice.ws.readyState, WebSocket.OPEN)
})

t.test('a client that sends frames but never reads gets at most 16 KiB of error frames queued', async t => {
  // Regression: every client frame was answered, with nothing to bound them, so a client sending 6-byte frames
  // without reading made the server queue about 12 times as much, past MAX_BUFFERED_BYTES, unchecked.
  const server = await listen(t)
  const alice = await connect(t, server, '/ws/alice')
  ;(alice.ws as unknown as { _socket: { pause: () => void } })._socket.pause()
  const frames = 150_000
  for (let i = 0; i < frames; i++) alice.ws.send('')
  const [connection] = [...server.app.connections.connections()] as [Connection]
  const tcp = (connection.socket as unknown as { _socket: { bytesRead: number } })._socket
  // Each empty masked frame is 6 bytes on the wire: wait until the server has read every one.
  await until(() => tcp.bytesRead >= frames * 6, `the server has read all ${frames} frames`, { intervalMs: 5 })
  t.ok(connection.socket.bufferedAmount <= 16 * 1024 + 100, `${connection.socket.bufferedAmount} bytes queued`)
  t.equal(server.app.connections.connectionsOf('alice'), 1, 'still connected: it broke no rule')
})

t.test('a slow consumer that does not read its close frame is cut off after the close grace, not held for 30 s', async t => {
  // Regression: ws waits 30 s for a close handshake that a client that is not reading never answers, holding the
  // socket and up to MAX_BUFFERED_BYTES meanwhile; the log line and the 1013 metric waited with it.
  const logs = new LogCapture()
  const server = await listen(t, { maxBufferedBytes: 64 * 1024, maxMessageLength: 60_000, bodyLimit: 128 * 1024, shutdownTimeoutMs: 400 }, logs)
  const slow = await connect(t, server, '/ws/slow')
  ;(slow.ws as unknown as { _socket: { pause: () => void } })._socket.pause()
  const message = 'x'.repeat(50_000)
  for (let sent = 0; sent < 2000 && server.app.connections.connectionsOf('slow') > 0; sent++) {
    await server.app.inject({ method: 'POST', url: '/send-message', payload: { sender: 'bob', receiver: 'slow', message } })
  }
  const closedAt = Date.now()
  t.ok(logs.find('slow consumer closed'))
  await until(() => logs.find('ws closed') !== undefined, 'the socket is closed', { timeoutMs: 5000 })
  t.match(logs.find('ws closed'), { userId: 'slow', code: 1013 })
  t.ok(Date.now() - closedAt >= 150, 'the client had the grace (200 ms) to read its close frame')
})

t.test('a client frame over 4 KiB closes the connection with 1009 and unregisters it', async t => {
  const server = await listen(t)
  const alice = await connect(t, server, '/ws/alice')
  alice.ws.send('x'.repeat(4097))
  t.equal((await alice.closed).code, 1009)
  await until(() => server.app.connections.connectionCount === 0, 'the closed connection is unregistered', { intervalMs: 5 })
  t.equal(server.app.connections.userCount, 0)
  const small = await connect(t, server, '/ws/bob')
  small.ws.send('x'.repeat(4096))
  t.equal((await small.nextJson()).type, 'error', 'exactly 4 KiB is still allowed')
})

t.test('a slow consumer is closed with 1013 once its buffer passes MAX_BUFFERED_BYTES', async t => {
  const logs = new LogCapture()
  const server = await listen(t, { maxBufferedBytes: 256 * 1024, maxMessageLength: 60_000, bodyLimit: 128 * 1024 }, logs)
  const slow = await connect(t, server, '/ws/slow')
  const fast = await connect(t, server, '/ws/fast')
  // Stop reading: kernel buffers fill, then ws's own queue grows on the server.
  const raw = (slow.ws as unknown as { _socket: { pause: () => void } })._socket
  raw.pause()
  const message = 'x'.repeat(50_000)
  let status = 'sent'
  let sent = 0
  while (status === 'sent' && sent < 2000) {
    const res = await server.app.inject({ method: 'POST', url: '/send-message', payload: { sender: 'bob', receiver: 'slow', message } })
    status = res.json().status
    sent++
  }
  t.equal(status, 'offline', `offline once the slow consumer was dropped (after ${sent} sends)`)
  t.equal(server.app.connections.connectionsOf('slow'), 0)
  const line = logs.find('slow consumer closed')
  t.match(line, { userId: 'slow', code: 1013 })
  // Regression: it logged what was queued without the frame that did not fit, a figure under the limit.
  t.ok(Number(line?.queuedBytes) > 256 * 1024, `queuedBytes ${String(line?.queuedBytes)} passes MAX_BUFFERED_BYTES`)
  const closed = slow.closed
  ;(raw as unknown as { resume: () => void }).resume()
  t.same(await closed, { code: 1013, reason: 'slow consumer' })
  // Others are untouched.
  await post(server, '/send-message', { sender: 'bob', receiver: 'fast', message: 'still here' })
  t.equal((await fast.nextJson()).message, 'still here')
})

t.test('a client that sends its close frame but keeps the TCP connection open is gone at once, and its socket closed', async t => {
  // Regression: ws waits 30 s for the client's FIN after the close handshake. Meanwhile the connection still counted
  // in presence, /stats and MAX_CONNECTIONS_PER_USER, while sends to it answered offline. RFC 6455 7.1.1: the server
  // closes the TCP connection first.
  const server = await listen(t, { maxConnectionsPerUser: 1 })
  const { port } = server.app.server.address() as { port: number }
  const socket = connectTcp({ port, host: '127.0.0.1', allowHalfOpen: true }) // it does not answer the server's FIN
  t.teardown(() => socket.destroy())
  let received = Buffer.alloc(0)
  socket.on('data', (chunk: Buffer) => { received = Buffer.concat([received, chunk]) })
  const ended = once(socket, 'end')
  socket.write('GET /ws/zed HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n')
  await until(() => received.includes('\r\n\r\n'), 'the 101 arrives')
  t.equal(server.app.connections.connectionsOf('zed'), 1)
  socket.write(Buffer.from([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8])) // a masked close frame, code 1000; no FIN follows
  await ended
  t.ok(received.subarray(received.indexOf('\r\n\r\n') + 4).equals(Buffer.from([0x88, 0x02, 0x03, 0xe8])), 'the close frame was echoed before the server closed')
  await until(() => server.app.connections.connectionsOf('zed') === 0, 'zed is unregistered', { timeoutMs: 5000 })
  t.same(await (await fetch(`${server.url}/presence/zed`)).json(), { userId: 'zed', online: false, connections: 0 })
  await connect(t, server, '/ws/zed') // the cap of 1 is free again
})

t.test('a ping flood (over 60 pings whose pongs are not yet written) is cut off without a close frame, as the README says', async t => {
  // ws's maxPendingAutoPongs (60): a client that sends pings faster than their pongs can be written is dropped.
  const server = await listen(t)
  const { port } = server.app.server.address() as { port: number }
  const flood = async (user: string, pings: number): Promise<{ pongs: () => number, closed: Promise<boolean>, frames: () => Buffer }> => {
    const socket = connectTcp({ port, host: '127.0.0.1' })
    t.teardown(() => socket.destroy())
    let received = Buffer.alloc(0)
    socket.on('data', (chunk: Buffer) => { received = Buffer.concat([received, chunk]) })
    const closed = once(socket, 'close').then(() => true)
    socket.write(`GET /ws/${user} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`)
    await until(() => received.includes('\r\n\r\n'), 'the 101 arrives')
    const start = received.indexOf('\r\n\r\n') + 4
    socket.write(Buffer.concat(Array.from({ length: pings }, () => Buffer.from([0x89, 0x80, 0, 0, 0, 0])))) // masked, empty
    const frames = () => received.subarray(start)
    return { pongs: () => frames().length / 2, closed, frames }
  }
  // Under the limit: every pong comes back, and the connection stays open.
  const calm = await flood('calm', 60)
  await until(() => calm.pongs() === 60, 'all 60 pongs arrive')
  t.equal(server.app.connections.connectionsOf('calm'), 1)
  // Over it: cut off (no close frame), after at most 60 pongs.
  const flooded = await flood('flood', 61)
  t.equal(await flooded.closed, true)
  t.ok(flooded.pongs() <= 60, `${flooded.pongs()} pongs`)
  t.notOk(flooded.frames().includes(Buffer.from([0x88])), 'no close frame')
  await until(() => server.app.connections.connectionsOf('flood') === 0, 'the flooder is unregistered')
})

t.test('heartbeat: a connection that does not answer pings is terminated and unregistered', async t => {
  const logs = new LogCapture()
  const server = await listen(t, { heartbeatIntervalMs: 50 }, logs)
  const healthy = await connect(t, server, '/ws/healthy')
  // autoPong off: this client never answers a ping, like a peer whose network vanished.
  const silent = await connect(t, server, '/ws/silent', { autoPong: false })
  const closed = await silent.closed
  t.equal(closed.code, 1006, 'terminated without a close frame')
  t.match(logs.find('heartbeat missed, connection terminated'), { userId: 'silent', code: 1006 })
  t.equal(server.app.connections.connectionsOf('silent'), 0)
  // Several intervals later the answering client is still there.
  await new Promise(resolve => setTimeout(resolve, 5 * 50))
  t.equal(healthy.ws.readyState, WebSocket.OPEN)
  t.equal(server.app.connections.connectionsOf('healthy'), 1)
})

t.test('heartbeat sweeps go in slices, and a slow sweep is never overlapped by the next', async t => {
  const logs = new LogCapture()
  const interval = 200
  const server = await listen(t, { heartbeatIntervalMs: interval, maxConnectionsPerUser: 1000 }, logs)
  const clients = []
  for (let i = 0; i < 200; i++) clients.push(await connect(t, server, `/ws/u${i}`))
  // An event-loop turn counter: pings of one sweep that all land in the same turn mean one synchronous loop.
  let turn = 0
  let spinning = true
  const spin = (): void => { turn++; if (spinning) setImmediate(spin) }
  setImmediate(spin)
  t.teardown(() => { spinning = false })
  const sweeps: number[][] = [[]]
  let pings = 0
  for (const c of server.app.connections.connections()) {
    const ping = c.socket.ping.bind(c.socket)
    c.socket.ping = ((...args: unknown[]) => {
      pings++
      const current = sweeps[sweeps.length - 1] as number[]
      current.push(turn)
      if (current.length === 200) sweeps.push([])
      // The first sweep is slow: one slice holds the loop for two intervals.
      if (pings === 100) { const end = Date.now() + 2 * interval; while (Date.now() < end); }
      ping(...(args as []))
    }) as typeof c.socket.ping
  }
  const missed = (): number => logs.lines.filter(l => l.msg === 'heartbeat missed, connection terminated').length
  await until(() => sweeps.length >= 4 || missed() > 0, 'three whole sweeps, or a missed heartbeat')
  t.ok(new Set(sweeps[0]).size >= 3, `a sweep of 200 spans several event-loop turns (${new Set(sweeps[0]).size})`)
  t.equal(missed(), 0, 'no answering client is taken for dead')
  t.equal(server.app.connections.connectionCount, 200)
})

t.test('a client offering only subprotocols other than "pushwire" gets none selected', async t => {
  const server = await listen(t)
  // The server answers the upgrade without choosing any of them; ws, like browsers, then refuses the connection
  // (clients that RFC 6455 lets through, such as Python's websockets, connect).
  const ws = new WebSocket(`${server.wsUrl}/ws/alice`, ['chat', 'v2.chat'])
  const [err] = await once(ws, 'error') as [Error]
  t.match(err.message, 'Server sent no subprotocol')
})

t.test('connects, closes and offline skips are logged with ids, never the message text', async t => {
  const logs = new LogCapture()
  const server = await listen(t, {}, logs)
  const alice = await connect(t, server, '/ws/alice')
  const secret = 'the launch code is 0000'
  const res = await post(server, '/send-message', { sender: 'bob', receiver: 'carol', message: secret })
  t.equal(res.body.status, 'offline')
  await post(server, '/send-message', { sender: 'bob', receiver: 'alice', message: secret })
  await alice.nextJson()
  alice.ws.close(1000)
  await until(() => logs.find('ws closed') !== undefined, 'the close is logged', { intervalMs: 5 })

  t.match(logs.find('offline, message dropped'), { msgId: res.body.id, sender: 'bob', receiver: 'carol' })
  // Regression: neither said where the client was or how long it stayed, which a reconnect loop shows at once.
  t.match(logs.find('ws connected'), { userId: 'alice', connId: String, ip: '127.0.0.1' })
  const closed = logs.find('ws closed')
  t.match(closed, { userId: 'alice', code: 1000, ms: Number })
  t.ok(Number(closed?.ms) >= 0 && Number.isInteger(closed?.ms), `ms ${String(closed?.ms)}`)
  t.notOk(logs.raw.some(line => line.includes('launch code')), 'message text never logged')
})

t.test('an upgrade request answered by another route, or while shutting down, has its socket closed after the answer', async t => {
  // Regression: @fastify/websocket closes an upgrade's socket only on its own routes, so an upgrade to /nope, /health
  // or POST /ws/x was answered and then left open in CLOSE-WAIT for good, and kept shutdown from finishing.
  const server = await listen(t)
  // The server, not the client, ends each exchange: the client never hangs up here.
  const upgrade = async (method: string, path: string): Promise<string> =>
    (await rawExchange(t, server, `${method} ${path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`)).split('\r\n')[0] as string
  t.equal(await upgrade('GET', '/nope'), 'HTTP/1.1 404 Not Found')
  t.equal(await upgrade('GET', '/health'), 'HTTP/1.1 200 OK')
  t.equal(await upgrade('POST', '/ws/bob'), 'HTTP/1.1 405 Method Not Allowed')

  // A client that never reads its 1001 holds shutdown for the 2 s grace; an upgrade in that time gets a 503.
  const stuck = await connect(t, server, '/ws/stuck')
  ;(stuck.ws as unknown as { _socket: { pause: () => void } })._socket.pause()
  const closing = server.app.close()
  await until(() => server.app.connections.connectionCount === 0, 'shutdown has unregistered the stuck connection', { intervalMs: 5 })
  t.equal(await upgrade('GET', '/ws/late'), 'HTTP/1.1 503 Service Unavailable')
  await closing
})

t.test('a handshake ws would refuse in plain text is refused in JSON: Sec-WebSocket-Version other than 13, a bad key', async t => {
  const server = await listen(t)
  const handshake = async (headers: string): Promise<string> =>
    await rawExchange(t, server, `GET /ws/alice HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n${headers}\r\n`)
  const key = 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'
  for (const version of ['8', '12', 'abc', '']) {
    const answer = await handshake(`${key}${version === '' ? '' : `Sec-WebSocket-Version: ${version}\r\n`}`)
    t.match(answer, /^HTTP\/1\.1 426 Upgrade Required\r\n/, `version "${version}"`)
    t.match(answer, /\r\nsec-websocket-version: 13\r\n/i)
    t.match(answer, /\{"statusCode":426,"error":"Upgrade Required","message":"Sec-WebSocket-Version must be 13 \(RFC 6455\)"\}$/)
  }
  for (const bad of ['', 'Sec-WebSocket-Key: short\r\n']) {
    const answer = await handshake(`${bad}Sec-WebSocket-Version: 13\r\n`)
    t.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n[^]*application\/json[^]*"message":"Sec-WebSocket-Key must be 16 random bytes in base64 \(RFC 6455\)"\}$/, JSON.stringify(bad))
  }

  // Regression: these got ws's own text/html 400 ("Invalid Upgrade header", "Invalid Sec-WebSocket-Protocol header").
  const upgradeTo = async (upgrade: string): Promise<string> =>
    await rawExchange(t, server, `GET /ws/alice HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: ${upgrade}\r\n${key}Sec-WebSocket-Version: 13\r\n\r\n`)
  const h2c = await upgradeTo('h2c')
  t.match(h2c, /^HTTP\/1\.1 426 Upgrade Required\r\n[^]*\r\nupgrade: websocket\r\n/i, 'an upgrade to anything else is answered like a plain GET')
  t.match(h2c, /application\/json[^]*"message":"this route needs a WebSocket upgrade, e\.g\. npx wscat -c ws:\/\/HOST\/ws\/USER"\}$/)
  for (const protocols of ['pushwire, pushwire', 'a b', 'pushwire,,bearer.x', 'pushwire,', 'push"wire']) {
    const answer = await handshake(`${key}Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ${protocols}\r\n`)
    t.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n[^]*application\/json[^]*"message":"Sec-WebSocket-Protocol must be a comma-separated list of distinct tokens \(RFC 6455\), such as \\"pushwire, bearer\.<token>\\""\}$/, protocols)
    t.match(answer, /\r\nx-request-id: /i)
  }
  t.equal((await connect(t, server, '/ws/alice', {}, ['chat', 'pushwire'])).ws.protocol, 'pushwire', 'ours among others is selected')
})

t.test('the HEAD request that Fastify adds for the ws route is a 426 too', async t => {
  const server = await listen(t)
  const res = await fetch(`${server.url}/ws/alice`, { method: 'HEAD' })
  t.equal(res.status, 426)
})

t.test('a throwing socket listener is caught and logged instead of crashing the process', async t => {
  const logs = new LogCapture()
  const server = await listen(t, {}, logs)
  await connect(t, server, '/ws/alice', { headers: { 'x-request-id': 'c1' } })
  const [connection] = [...server.app.connections.connections()] as [Connection]
  const listener = guard(server.app.log, (c: Connection, n: number) => { throw new Error(`boom ${n} for ${c.userId}`) })
  t.doesNotThrow(() => listener.call(connection.socket, 7))
  t.match(logs.find('ws listener failed'), { connId: 'c1', err: { message: 'boom 7 for alice' } })
})

t.test('protocol violations close with their own codes, and the log says which', async t => {
  const logs = new LogCapture()
  const server = await listen(t, {}, logs)
  const badUtf8 = await connect(t, server, '/ws/utf8')
  badUtf8.ws.send(Buffer.from([0xff, 0xfe, 0xfd]), { binary: false })
  t.equal((await badUtf8.closed).code, 1007)
  const badOpcode = await connect(t, server, '/ws/opcode')
  // A masked frame with the reserved opcode 0x3, written by hand: no client library would send it.
  ;(badOpcode.ws as unknown as { _socket: { write: (b: Buffer) => void } })._socket.write(Buffer.from([0x83, 0x80, 1, 2, 3, 4]))
  t.equal((await badOpcode.closed).code, 1002)
  const big = await connect(t, server, '/ws/big')
  big.ws.send('x'.repeat(5000))
  t.equal((await big.closed).code, 1009)
  // Empty fragments stay under the size limit; one past MAX_CLIENT_FRAGMENTS is refused by ws with 1008.
  const fragmented = await connect(t, server, '/ws/fragmented')
  for (let i = 0; i <= MAX_CLIENT_FRAGMENTS; i++) fragmented.ws.send('', { fin: false })
  t.equal((await fragmented.closed).code, 1008)
  await until(() => logs.lines.filter(l => l.msg === 'ws closed').length === 4, 'all four closes are logged', { intervalMs: 5 })
  const codes = Object.fromEntries(logs.lines.filter(l => l.msg === 'ws closed').map(l => [l.userId, l.code]))
  t.same(codes, { utf8: 1007, opcode: 1002, big: 1009, fragmented: 1008 }, 'the server logs the code it closed with')
})
