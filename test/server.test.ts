// The real process: start-up, configuration errors, and graceful shutdown on SIGTERM and SIGINT.
import { once } from 'node:events'
import { randomBytes } from 'node:crypto'
import { connect, createServer, type AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import WebSocket from 'ws'
import { spawnServer, startServer } from './process.js'
import { until } from './helper.js'
import { freePort, redisMissing, RedisServer } from './redis-server.js'

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  t.test(`${signal}: every WebSocket gets 1001 "server shutting down" and the process exits 0`, async t => {
    const server = await startServer({ SHUTDOWN_TIMEOUT_MS: '5000' })
    t.teardown(() => { server.child.kill('SIGKILL') })
    const clients = [new WebSocket(`${server.wsUrl}/ws/alice`), new WebSocket(`${server.wsUrl}/ws/bob?format=text`)]
    await Promise.all(clients.map(ws => once(ws, 'open')))
    const closes = clients.map(ws => once(ws, 'close').then(([code, reason]) => [code, String(reason)]))
    server.child.kill(signal)
    t.same(await Promise.all(closes), [[1001, 'server shutting down'], [1001, 'server shutting down']])
    t.equal(await server.exited, 0)
    t.match(server.stdout(), `"signal":"${signal}","msg":"shutting down"`)
    // Regression: nothing said the stop had finished, so a log cut off mid-shutdown looked the same.
    const last = JSON.parse(server.stdout().trim().split('\n').at(-1) as string) as Record<string, unknown>
    t.match(last, { msg: 'shutdown complete', ms: Number })
  })
}

t.test('SHUTDOWN_DELAY_MS: after the signal the node serves on, with /ready failing, then shuts down as usual', async t => {
  // A load balancer takes a few seconds to see /ready fail; every send it routed here meanwhile used to get a 503.
  const server = await startServer({ SHUTDOWN_DELAY_MS: '800', SHUTDOWN_TIMEOUT_MS: '5000' })
  t.teardown(() => { server.child.kill('SIGKILL') })
  const ws = new WebSocket(`${server.wsUrl}/ws/alice`)
  await once(ws, 'open')
  const frames: string[] = []
  ws.on('message', data => frames.push(String(data)))
  const closed = once(ws, 'close').then(([code]) => code as number)
  const signalledAt = Date.now()
  server.child.kill('SIGTERM')
  await until(() => server.stdout().includes('"msg":"shutting down"'), 'the shutdown starts')
  const ready = await fetch(`${server.url}/ready`)
  t.same([ready.status, await ready.json()], [503, { statusCode: 503, error: 'Service Unavailable', message: 'not ready: shutting down' }])
  const sent = await fetch(`${server.url}/send-message`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sender: 'a', receiver: 'alice', message: 'during the delay' }) })
  t.same([sent.status, ((await sent.json()) as { status: string }).status], [200, 'sent'])
  t.equal(await closed, 1001)
  t.ok(Date.now() - signalledAt >= 700, 'the connection stayed open through the delay')
  t.match(frames, [/during the delay/])
  t.equal(await server.exited, 0)
  t.match(server.stdout(), /"signal":"SIGTERM","delayMs":800,"msg":"shutting down"/)
  t.notMatch(server.stdout(), /"route":"\/ready"/, 'the failing /ready is not logged as a refusal')
})

t.test('a SIGTERM while the node waits for Redis at start-up stops it cleanly, without ever listening', async t => {
  // Regression: it killed the process (exit 143) without a line: the shutdown handler was installed after start-up.
  const proc = spawnServer({ PORT: '0', HOST: '127.0.0.1', REDIS_URL: `redis://127.0.0.1:${await freePort()}`, SHUTDOWN_DELAY_MS: '5000' })
  t.teardown(() => { proc.child.kill('SIGKILL') })
  await until(() => proc.stdout().includes('"msg":"redis error"'), 'start-up is waiting for Redis')
  proc.child.kill('SIGTERM')
  t.equal(await proc.exited, 0)
  const lines = proc.stdout().trim().split('\n').map(line => JSON.parse(line) as { msg: string, delayMs?: number })
  t.notOk(lines.some(line => line.msg.startsWith('Server listening')), 'never listened')
  t.same(lines.slice(-2).map(line => line.msg), ['shutting down', 'shutdown complete'])
  // Regression: it sat through SHUTDOWN_DELAY_MS, though no load balancer had ever been sent here.
  t.equal(lines.at(-2)?.delayMs, undefined, 'no delay for a node that never listened')
})

t.test('a client that never answers the close frame is cut off at shutdown, and its close is logged too', async t => {
  // Regression: the process exited as soon as it cut such clients off, before their close events ran, so the log
  // had no "ws closed" line for them.
  const server = await startServer({ SHUTDOWN_TIMEOUT_MS: '5000' })
  t.teardown(() => { server.child.kill('SIGKILL') })
  const polite = new WebSocket(`${server.wsUrl}/ws/alice`)
  await once(polite, 'open')
  const { port } = new URL(server.url)
  const silent = connect(Number(port), '127.0.0.1')
  t.teardown(() => silent.destroy())
  silent.write(`GET /ws/mute HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n\r\n`)
  const [answer] = await once(silent, 'data') as [Buffer]
  t.match(answer.toString(), /^HTTP\/1\.1 101 /)
  silent.on('data', () => {}) // reads the close frame, never answers it
  server.child.kill('SIGTERM')
  t.equal(await server.exited, 0)
  const closes = server.stdout().split('\n').filter(line => line.includes('"msg":"ws closed"'))
  t.same(closes.map(line => [JSON.parse(line).userId, JSON.parse(line).code]).sort(), [['alice', 1001], ['mute', 1001]])
})

t.test('a shutdown held past SHUTDOWN_TIMEOUT_MS, or cut short by a second signal, says so in a JSON line and exits 1', async t => {
  // Regression: both were plain text on stderr ("killed by timeout (1000ms)", "second SIGTERM, exiting"), the only
  // lines of the process that were not JSON.
  for (const [ending, expected] of [
    // Regression: the line did not say what held the shutdown.
    ['timeout', { level: 50, ms: 1000, httpConnections: 1, msg: 'killed by timeout: the shutdown took longer than SHUTDOWN_TIMEOUT_MS' }],
    ['second signal', { level: 50, signal: 'SIGTERM', msg: 'second signal: exiting at once, without finishing the shutdown' }]
  ] as const) {
    const server = await startServer({ SHUTDOWN_TIMEOUT_MS: '1000' })
    t.teardown(() => { server.child.kill('SIGKILL') })
    const { port } = new URL(server.url)
    // A body that never finishes holds the shutdown (it is waited for, as a slow upload would be).
    const stalled = connect(Number(port), '127.0.0.1')
    t.teardown(() => stalled.destroy())
    await once(stalled, 'connect')
    stalled.write('POST /send-message HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"sender"')
    // Time for the server to route it: a request still in its headers would be closed rather than waited for.
    await new Promise(resolve => setTimeout(resolve, 100))
    server.child.kill('SIGTERM')
    if (ending === 'second signal') {
      await until(() => server.stdout().includes('"msg":"shutting down"'), 'the first signal is taken')
      server.child.kill('SIGTERM')
    }
    t.equal(await server.exited, 1, ending)
    const lines = server.stdout().trim().split('\n').map(line => JSON.parse(line) as Record<string, unknown>)
    t.match(lines.at(-1), expected, ending)
  }
})

t.test('connections without a request do not hold the shutdown, and an answer under way closes its connection', async t => {
  // Regression: an unused connection or one partway through its headers held the exit to SHUTDOWN_TIMEOUT_MS and
  // exit 1, and a POST answered during the shutdown said keep-alive, so its connection held it the same way.
  const server = await startServer({ SHUTDOWN_TIMEOUT_MS: '8000' })
  t.teardown(() => { server.child.kill('SIGKILL') })
  const { port } = new URL(server.url)
  const open = async (request: string) => {
    const socket = connect(Number(port), '127.0.0.1')
    t.teardown(() => socket.destroy())
    let received = ''
    socket.on('data', (chunk: Buffer) => { received += chunk.toString() })
    const closed = once(socket, 'close').then(() => received)
    await once(socket, 'connect')
    socket.write(request)
    return { socket, closed, received: () => received }
  }
  const unused = await open('')
  const halfHeaders = await open('POST /send-message HTTP/1.1\r\nHost: x\r\nContent-Ty')
  const body = JSON.stringify({ sender: 'a', receiver: 'b', message: 'under way' })
  const halfBody = await open(`POST /send-message HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`)
  // A keep-alive connection that was answered before the shutdown: idle, so Node's close ends it.
  const answered = await open('GET /health HTTP/1.1\r\nHost: x\r\n\r\n')
  await until(() => answered.received().endsWith('}'), 'the /health answer')
  server.child.kill('SIGTERM')
  t.equal(await unused.closed, '', 'an unused connection is closed without a word')
  t.equal(await halfHeaders.closed, '', 'so is one whose headers never ended')
  halfBody.socket.write(body.slice(10))
  const answer = await halfBody.closed
  t.match(answer, /^HTTP\/1\.1 200 OK\r\n/, 'the POST under way is answered')
  t.match(answer, /\r\nConnection: close\r\n/, '...and its connection closed after it')
  t.match(await answered.closed, /^HTTP\/1\.1 200 OK\r\n/)
  t.equal(await server.exited, 0, 'nothing held the exit to SHUTDOWN_TIMEOUT_MS')
})

t.test('the service answers on the port it was given, with JSON logs when stdout is not a TTY', async t => {
  const server = await startServer({ LOG_LEVEL: 'debug' })
  t.teardown(() => { server.child.kill('SIGKILL') })
  const res = await fetch(`${server.url}/health`)
  t.same(await res.json(), { status: 'ok' })
  t.match(server.stdout().split('\n')[0], /^\{"level":\d+,"time":/)
  server.child.kill('SIGTERM')
  t.equal(await server.exited, 0)
})

t.test('a bad setting stops start-up with one line naming the variable', async t => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ PORT: 'abc' }, /^invalid configuration: PORT must be integer \(got "abc"\)$/],
    [{ MAX_MESSAGE_LENGTH: '-1' }, /^invalid configuration: MAX_MESSAGE_LENGTH must be >= 1 \(got "-1"\)$/],
    [{ LOG_LEVEL: 'loud' }, /^invalid configuration: LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent/],
    [{ ALLOWED_ORIGINS: 'example.com' }, /^invalid configuration: ALLOWED_ORIGINS must be \* or a comma-separated list of origins/],
    [{ NODE_ENV: 'production' }, /^invalid configuration: API_KEYS, JWT_SECRET, ALLOWED_ORIGINS must be set when NODE_ENV=production .* or set AUTH=off to run open deliberately$/],
    [{ JWT_SECRET: 'too-short' }, /^invalid configuration: JWT_SECRET is shorter than 32 bytes/]
  ]
  await exitsWithOneLine(t, cases)
})

t.test('a port or host it cannot listen on stops start-up with one line naming the variable', async t => {
  // Regression: these printed a JSON log line with a stack trace, and a METRICS_PORT in use left the node serving
  // without metrics.
  const taken = createServer().listen(0, '127.0.0.1')
  await once(taken, 'listening')
  t.teardown(() => taken.close())
  const port = String((taken.address() as AddressInfo).port)
  const takenElsewhere = createServer().listen(0, '127.0.0.2')
  await once(takenElsewhere, 'listening')
  t.teardown(() => takenElsewhere.close())
  const portElsewhere = String((takenElsewhere.address() as AddressInfo).port)
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ PORT: port }, new RegExp(`^cannot start: PORT ${port} is already in use on 127\\.0\\.0\\.1$`)],
    [{ METRICS_PORT: port }, new RegExp(`^cannot start: METRICS_PORT ${port} is already in use on 127\\.0\\.0\\.1$`)],
    [{ HOST: 'no-such-host.invalid' }, /^cannot start: HOST "no-such-host\.invalid" does not resolve to an address$/],
    [{ HOST: '192.0.2.1' }, /^cannot start: HOST "192\.0\.2\.1" is not an address of this machine$/],
    [{ METRICS_PORT: portElsewhere, METRICS_HOST: '127.0.0.2' }, new RegExp(`^cannot start: METRICS_PORT ${portElsewhere} is already in use on 127\\.0\\.0\\.2$`)],
    [{ METRICS_PORT: '9', METRICS_HOST: 'no-such-host.invalid' }, /^cannot start: METRICS_HOST "no-such-host\.invalid" does not resolve to an address$/],
    [{ METRICS_PORT: '9', METRICS_HOST: '192.0.2.1' }, /^cannot start: METRICS_HOST "192\.0\.2\.1" is not an address of this machine$/],
    // Any other failure still takes one line, with the system's own words: a link-local address needs a scope id.
    [{ HOST: 'fe80::1' }, /^cannot start: listen EINVAL: invalid argument fe80::1/]
  ]
  await exitsWithOneLine(t, cases)
})

t.test('an uncaught error is logged, sockets get 1001, and the process exits 1', async t => {
  // A fault outside any request: an exception thrown from an event listener, on the test's cue (SIGUSR2).
  const fault = 'data:text/javascript,' + encodeURIComponent('process.on("SIGUSR2", () => { throw new Error("fault injected by test") })')
  const server = await startServer({ NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${fault}` })
  t.teardown(() => { server.child.kill('SIGKILL') })
  const ws = new WebSocket(`${server.wsUrl}/ws/alice`)
  const closed = once(ws, 'close')
  await once(ws, 'open')
  server.child.kill('SIGUSR2')
  t.equal((await closed)[0], 1001)
  t.equal(await server.exited, 1)
  t.match(server.stdout(), /"msg":"shutting down after an unexpected error"/)
  t.match(server.stdout(), /fault injected by test/)
})

t.test('open mode says once, at start-up, that auth is off', async t => {
  const server = await startServer()
  t.teardown(() => { server.child.kill('SIGKILL') })
  const warnings = server.stdout().split('\n').filter(line => line.includes('"level":40'))
  t.equal(warnings.length, 1)
  t.match(warnings[0], /auth is off/)
  server.child.kill('SIGTERM')
  await server.exited
})

/** Starts the server with each environment and checks it exits 1 having written exactly that one line, no stack. */
t.test('a Redis that refuses REDIS_URL (its password, its database) stops start-up with one line naming REDIS_URL', { skip: redisMissing }, async t => {
  // Regression: the node started and stayed not ready for good, which no retry could fix, and an orchestrator saw
  // a running process rather than a failed start.
  const redis = await RedisServer.start(t, ['--requirepass', 'right-password-1'])
  const at = `127.0.0.1:${redis.port}`
  const local = { PORT: '0', HOST: '127.0.0.1' }
  await exitsWithOneLine(t, [
    [{ ...local, REDIS_URL: `redis://:wrong-password-2@${at}` }, /^cannot start: REDIS_URL: Redis refused its user name or password \(WRONGPASS\)$/],
    [{ ...local, REDIS_URL: `redis://${at}` }, /^cannot start: REDIS_URL: Redis requires a password, which it does not give \(NOAUTH\)$/],
    [{ ...local, REDIS_URL: `redis://:right-password-1@${at}/99` }, /^cannot start: REDIS_URL: Redis has no database 99 \(ERR DB index is out of range\)$/]
  ])
})

t.test('a Redis user without the channels or commands pushwire needs stops start-up with one line naming REDIS_URL', { skip: redisMissing }, async t => {
  // Regression: Redis 7 gives a new ACL user no channels. The node said it was ready, and every send and upgrade got
  // a 503; a load balancer sent it all its share of the traffic.
  const redis = await RedisServer.start(t, ['--user', 'nochannels', 'on', '>channel-less-password-1', '~*', '+@all', '--user', 'nopublish', 'on', '>publish-less-password-1', '~*', '&*', '+@all', '-publish',
    // The least the README says a user needs.
    '--user', 'least', 'on', '>least-password-1', '~pushwire:*', '&pw:*', '+@pubsub', '+@scripting', '+@read', '+@write', '+time', '+info'])
  const at = `127.0.0.1:${redis.port}`
  const local = { PORT: '0', HOST: '127.0.0.1' }
  await exitsWithOneLine(t, [
    [{ ...local, REDIS_URL: `redis://nochannels:channel-less-password-1@${at}` }, /^cannot start: REDIS_URL: Redis refused a command pushwire needs \(NOPERM this user has no permissions to access one of the channels used as arguments\); its ACL user needs ~pushwire:\* &pw:\* \+@pubsub \+@scripting \+@read \+@write \+time \+info$/],
    [{ ...local, REDIS_URL: `redis://nopublish:publish-less-password-1@${at}` }, /^cannot start: REDIS_URL: Redis refused a command pushwire needs \(NOPERM this user has no permissions to run the 'publish' command\);/]
  ])
  const least = await startServer({ REDIS_URL: `redis://least:least-password-1@${at}` })
  t.teardown(() => { least.child.kill('SIGKILL') })
  t.equal((await fetch(`${least.url}/ready`)).status, 200)
  const ws = new WebSocket(`${least.wsUrl}/ws/alice`)
  await once(ws, 'open')
  const frame = once(ws, 'message')
  const sent = await fetch(`${least.url}/send-message`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sender: 'a', receiver: 'alice', message: 'hi' }) })
  t.equal(sent.status, 200)
  t.match(String((await frame)[0]), /"message":"hi"/)
  ws.close()
  least.child.kill('SIGTERM')
  t.equal(await least.exited, 0)
})

async function exitsWithOneLine (t: Test, cases: Array<[Record<string, string>, RegExp]>): Promise<void> {
  for (const [env, expected] of cases) {
    const proc = spawnServer(env)
    t.equal(await proc.exited, 1, `${JSON.stringify(env)} exits 1`)
    const lines = proc.stderr().trim().split('\n')
    t.equal(lines.length, 1, 'exactly one line')
    t.match(lines[0], expected)
    t.notMatch(proc.stderr(), /\s+at /, 'no stack trace')
  }
}
