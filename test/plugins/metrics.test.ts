// /metrics after a scripted workload, parsed with a real Prometheus text-format parser: counters match exactly.
import t from 'tap'
import parse from 'parse-prometheus-text-format'
import { connect, listen, LogCapture, post, rawExchange, until, type Server } from '../helper.js'
import { freePort } from '../redis-server.js'
import { Registry } from 'prom-client'
import { FastHistogram } from '../../src/plugins/metrics.js'

type Families = ReturnType<typeof parse>

let lastText = ''

async function scrape (url: string, headers: Record<string, string> = {}): Promise<Families> {
  const res = await fetch(`${url}/metrics`, { headers })
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`)
  if (!String(res.headers.get('content-type')).startsWith('text/plain; version=0.0.4')) throw new Error('not the exposition format')
  lastText = await res.text()
  return parse(lastText)
}

/**
 * The parser folds a labelled histogram into one unlabelled sample, so per-label counts of a histogram are read
 * from its _count lines, after the parser has accepted the whole text.
 */
function histogramCount (name: string, labels: string): number {
  const match = new RegExp(`^${name}_count\\{${labels.replace(/[/]/g, '\\/')}\\} (\\d+)$`, 'm').exec(lastText)
  if (match === null) throw new Error(`no ${name}_count{${labels}}`)
  return Number(match[1])
}

function value (families: Families, name: string, labels: Record<string, string> = {}): number {
  const family = families.find(f => f.name === name)
  if (family === undefined) throw new Error(`no metric ${name}`)
  const sample = family.metrics.find(m => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))
  if (sample === undefined) throw new Error(`no ${name} with ${JSON.stringify(labels)}`)
  return Number(sample.value ?? sample.count)
}

t.test('counters and gauges match a scripted workload exactly', async t => {
  // Heartbeats far enough apart that the paused "slow" client below is closed as a slow consumer, not for its missed
  // pongs, however long a busy machine takes to fill its socket buffers.
  const server = await listen(t, { heartbeatIntervalMs: 2500, maxBufferedBytes: 64 * 1024, maxMessageLength: 20_000, bodyLimit: 64 * 1024 })
  const alice1 = await connect(t, server, '/ws/alice?topics=news')
  const alice2 = await connect(t, server, '/ws/alice')
  const bob = await connect(t, server, '/ws/bob?topics=news,sport')
  const send = (path: string, body: object) => post(server, path, body)

  await send('/send-message', { sender: 'x', receiver: 'alice', message: 'm' }) // 2 frames
  await send('/send-message', { sender: 'x', receiver: 'alice', message: 'm' }) // 2 frames
  await send('/send-message', { sender: 'x', receiver: 'ghost', message: 'm' }) // offline
  await send('/publish', { sender: 'x', topic: 'news', message: 'm' }) // 2 frames
  await send('/publish', { sender: 'x', topic: 'empty', message: 'm' }) // offline
  await send('/broadcast', { sender: 'x', message: 'm' }) // 3 frames
  await send('/send-message', { sender: 'x', reciever: 'typo', message: 'm' }) // 400, not counted
  await Promise.all([alice1.waitFor(4), alice2.waitFor(3), bob.waitFor(2)])

  let families = await scrape(server.url)
  t.equal(value(families, 'pushwire_messages_total', { kind: 'direct', status: 'sent' }), 2)
  t.equal(value(families, 'pushwire_messages_total', { kind: 'direct', status: 'offline' }), 1)
  t.equal(value(families, 'pushwire_messages_total', { kind: 'topic', status: 'sent' }), 1)
  t.equal(value(families, 'pushwire_messages_total', { kind: 'topic', status: 'offline' }), 1)
  t.equal(value(families, 'pushwire_messages_total', { kind: 'broadcast', status: 'sent' }), 1)
  t.equal(value(families, 'pushwire_messages_total', { kind: 'broadcast', status: 'offline' }), 0)
  t.equal(value(families, 'pushwire_frames_written_total'), 9)
  t.equal(value(families, 'pushwire_send_duration_seconds'), 6, 'one duration per accepted message')
  t.equal(value(families, 'pushwire_connections'), 3)
  t.equal(value(families, 'pushwire_ws_opens_total'), 3, 'upgrades that reached the 101')
  t.equal(value(families, 'pushwire_users'), 2)
  t.equal(value(families, 'pushwire_topics'), 2)
  t.equal(families.find(f => f.name === 'pushwire_http_request_duration_seconds')?.type, 'HISTOGRAM')
  t.equal(histogramCount('pushwire_http_request_duration_seconds', 'method="POST",route="/send-message",status_code="200"'), 3)
  t.equal(histogramCount('pushwire_http_request_duration_seconds', 'method="POST",route="/send-message",status_code="400"'), 1)
  t.equal(histogramCount('pushwire_http_request_duration_seconds', 'method="POST",route="/broadcast",status_code="200"'), 1)
  t.ok(families.some(f => f.name === 'nodejs_eventloop_lag_seconds'), 'default process metrics, event-loop lag included')
  t.notOk(families.some(f => f.name === 'pushwire_redis_up'), 'no Redis metrics on one node')

  // Closes of every kind: normal, 1009, heartbeat termination, slow consumer, and codes a client made up.
  alice2.ws.close(1000)
  for (const code of [3000, 4321, 4999]) (await connect(t, server, `/ws/made-up-${code}`)).ws.close(code)
  bob.ws.send('x'.repeat(5000))
  const mute = await connect(t, server, '/ws/mute', { autoPong: false })
  const slow = await connect(t, server, '/ws/slow')
  ;(slow.ws as unknown as { _socket: { pause: () => void } })._socket.pause()
  while (server.app.connections.connectionsOf('slow') > 0) {
    await server.app.inject({ method: 'POST', url: '/send-message', payload: { sender: 'x', receiver: 'slow', message: 'y'.repeat(20_000) } })
  }
  await mute.closed
  await until(async () => value(await scrape(server.url), 'pushwire_connections') === 1, 'pushwire_connections is down to 1')
  families = await scrape(server.url)
  t.equal(value(families, 'pushwire_ws_closes_total', { code: '1000' }), 1)
  t.equal(value(families, 'pushwire_ws_closes_total', { code: '1009' }), 1)
  t.equal(value(families, 'pushwire_ws_closes_total', { code: '1006' }), 1, 'the terminated one')
  // A label per code a client chooses would let any client add thousands of series.
  await until(async () => value(await scrape(server.url), 'pushwire_ws_closes_total', { code: 'other' }) === 3, 'the made-up codes are counted')
  t.notMatch(await (await fetch(`${server.url}/metrics`)).text(), /code="(3000|4321|4999)"/)
  t.equal(value(families, 'pushwire_heartbeat_terminations_total'), 1)
  t.equal(value(families, 'pushwire_slow_consumer_closes_total'), 1)
  // Regression: nothing counted opens, so a reconnect storm showed only as closes and a flat gauge.
  t.equal(value(families, 'pushwire_ws_opens_total'), 8, 'three, then three made-up closers, the mute one and the slow one')
})

t.test('with auth on, /metrics on the main port needs an API key', async t => {
  const key = 'metrics-reader-key-0123456789'
  const logs = new LogCapture()
  const server = await listen(t, { apiKeys: [key] }, logs)
  const denied = await fetch(`${server.url}/metrics`)
  t.equal(denied.status, 401)
  t.equal(denied.headers.get('www-authenticate'), 'Bearer realm="pushwire"')
  // Regression: the route was made before the error handler, so its refusals were never logged.
  t.match(logs.find('request refused'), { statusCode: 401, route: '/metrics', reqId: denied.headers.get('x-request-id') })
  t.same(await denied.json(), { statusCode: 401, error: 'Unauthorized', message: 'an API key is required for /metrics (or serve it on METRICS_PORT)' })
  // Regression: a wrong key and a header of another scheme were also told a key is required, as if none was sent.
  const wrong = await fetch(`${server.url}/metrics`, { headers: { authorization: 'Bearer not-the-key-0123456789abcdef' } })
  t.same([wrong.status, wrong.headers.get('www-authenticate'), (await wrong.json() as { message: string }).message], [401, 'Bearer realm="pushwire", error="invalid_token"', 'the API key is not valid'])
  const basic = await fetch(`${server.url}/metrics`, { headers: { authorization: 'Basic YTpi' } })
  t.same([basic.status, (await basic.json() as { message: string }).message], [401, 'the Authorization header must be "Bearer <key>"'])
  t.ok((await scrape(server.url, { authorization: `Bearer ${key}` })).length > 0)
})

t.test('METRICS_PORT moves /metrics to its own listener', async t => {
  const port = await freePort()
  const server: Server = await listen(t, { metricsPort: port, apiKeys: ['k'.repeat(24)] })
  t.equal((await fetch(`${server.url}/metrics`)).status, 404, 'not on the main port')
  const side = `http://127.0.0.1:${port}`
  t.ok(value(await scrape(side), 'pushwire_connections') === 0, 'no key needed on the private port')
  const other = await fetch(`${side}/other`)
  t.same([other.status, await other.json()], [404, { statusCode: 404, error: 'Not Found', message: 'Route GET /other not found' }])
})

t.test('METRICS_HOST binds the metrics port to an address of its own', async t => {
  // 127.0.0.2 is as much this machine's as 127.0.0.1 (all of 127/8 is loopback), so the two listeners differ only by
  // the address they bind.
  const port = await freePort()
  const server: Server = await listen(t, { metricsPort: port, metricsHost: '127.0.0.2' })
  t.equal((server.app.server.address() as { address: string }).address, '127.0.0.1')
  t.ok(value(await scrape(`http://127.0.0.2:${port}`), 'pushwire_connections') === 0)
  await t.rejects(fetch(`http://127.0.0.1:${port}/metrics`), 'nothing listens on HOST at that port')
})

t.test('the METRICS_PORT listener answers and logs like the main one, and keeps the same request timeout', async t => {
  // Regression: it was a bare Fastify app. No X-Request-Id, Fastify's own error shapes ("Client Error",
  // FST_ERR_BAD_URL), a 404 for POST /metrics, nothing logged, and no request timeout: a slow client held a socket
  // open for as long as it liked.
  const port = await freePort()
  const logs = new LogCapture()
  await listen(t, { metricsPort: port, requestTimeoutMs: 300 }, logs)
  const side = { url: `http://127.0.0.1:${port}` } as Server
  const scraped = await fetch(`${side.url}/metrics`)
  t.match(scraped.headers.get('x-request-id'), /^[0-9a-f-]{36}$/)
  const posted = await fetch(`${side.url}/metrics`, { method: 'POST' })
  // OPTIONS only where something answers it: CORS on the main port, nothing here.
  t.same([posted.status, posted.headers.get('allow'), await posted.json()], [405, 'GET, HEAD', { statusCode: 405, error: 'Method Not Allowed', message: 'POST is not allowed on /metrics: it takes GET or HEAD' }])
  t.match(logs.find('request refused'), { statusCode: 405, route: 'unmatched', reqId: posted.headers.get('x-request-id') })
  const badUrl = await rawExchange(t, side, 'GET /%ZZ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  t.match(badUrl, /^HTTP\/1\.1 400 .*"message":"'\/%ZZ' is not a valid URL/s)
  const malformed = await rawExchange(t, side, 'GET /metrics HTTP/1.1\r\nHo st: x\r\n\r\n')
  t.match(malformed, /^HTTP\/1\.1 400 .*\r\nx-request-id: .*"message":"malformed HTTP request: Invalid header token"/s)
  const noHost = await rawExchange(t, side, 'GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n')
  t.match(noHost, /"message":"the Host header is required in HTTP\/1\.1 \(RFC 9112\)"/)
  const expectation = await rawExchange(t, side, 'GET /metrics HTTP/1.1\r\nHost: x\r\nExpect: bar\r\nConnection: close\r\n\r\n')
  t.match(expectation, /^HTTP\/1\.1 417 .*"message":"the Expect header \\"bar\\" cannot be met: only 100-continue can"/s)
  const slow = await rawExchange(t, side, 'GET /metrics HTTP/1.1\r\nHost: x\r\n')
  t.match(slow, /^HTTP\/1\.1 408 .*within 300 ms \(REQUEST_TIMEOUT_MS\)/s)
})

t.test('METRICS=off: no /metrics at all', async t => {
  const server = await listen(t, { metrics: false })
  t.equal((await fetch(`${server.url}/metrics`)).status, 404)
  t.equal((await post(server, '/broadcast', { sender: 'a', message: 'b' })).status, 200)
})

t.test('FastHistogram: prom-client exposition of cumulative buckets, sum and count per label set', async t => {
  const registry = new Registry()
  const histogram = new FastHistogram('h_seconds', 'help text', registry)
  const a = histogram.labelled('a', () => ({ route: '/a' }))
  a.observe(0.0001)
  a.observe(0.003)
  a.observe(99)
  t.equal(histogram.labelled('a', () => ({ route: 'not used' })), a, 'one label set per key')
  const text = await registry.metrics()
  t.match(text, /^# HELP h_seconds help text\n# TYPE h_seconds histogram\n/)
  t.match(text, /^h_seconds_bucket\{route="\/a",le="0.0005"\} 1$/m)
  t.match(text, /^h_seconds_bucket\{route="\/a",le="0.0025"\} 1$/m)
  t.match(text, /^h_seconds_bucket\{route="\/a",le="0.005"\} 2$/m)
  t.match(text, /^h_seconds_bucket\{route="\/a",le="2.5"\} 2$/m)
  t.match(text, /^h_seconds_bucket\{route="\/a",le="\+Inf"\} 3$/m)
  t.match(text, /^h_seconds_sum\{route="\/a"\} 99.0031$/m)
  t.match(text, /^h_seconds_count\{route="\/a"\} 3$/m)
  // A reset zeroes every label set in place: the send path holds on to its label sets, and an observation made
  // through one after a reset must still count (clearing the sets used to leave those references writing nowhere).
  registry.resetMetrics()
  const zeroed = await registry.metrics()
  t.match(zeroed, /^h_seconds_bucket\{route="\/a",le="\+Inf"\} 0$/m)
  t.match(zeroed, /^h_seconds_sum\{route="\/a"\} 0$/m)
  t.match(zeroed, /^h_seconds_count\{route="\/a"\} 0$/m)
  a.observe(0.002)
  const after = await registry.metrics()
  t.match(after, /^h_seconds_bucket\{route="\/a",le="0.0025"\} 1$/m)
  t.match(after, /^h_seconds_count\{route="\/a"\} 1$/m)
})

t.test('unknown paths and wrong methods are counted under one route label, whatever the path', async t => {
  // Regression: they were not counted at all, so a scan or a broken client was invisible; a label per path would let
  // any client add series.
  const server = await listen(t)
  for (let i = 0; i < 5; i++) t.equal((await fetch(`${server.url}/nope-${i}`)).status, 404)
  t.equal((await fetch(`${server.url}/send-message`)).status, 405)
  // Regression: a URL answered before routing (a broken %-escape, a segment over 100 characters) was not counted.
  t.equal((await fetch(`${server.url}/presence/%ZZ`)).status, 400)
  t.equal((await fetch(`${server.url}/presence/${'a'.repeat(101)}`)).status, 400)
  await scrape(server.url)
  t.equal(histogramCount('pushwire_http_request_duration_seconds', 'method="GET",route="unmatched",status_code="404"'), 5)
  t.equal(histogramCount('pushwire_http_request_duration_seconds', 'method="GET",route="unmatched",status_code="405"'), 1)
  t.equal(histogramCount('pushwire_http_request_duration_seconds', 'method="GET",route="unmatched",status_code="400"'), 2)
  t.notMatch(lastText, /nope-/)
})
