import t from 'tap'
import { sampleIntervalMs, shedCause } from '../../src/plugins/load-shedding.js'
import { listen, LogCapture, post, until } from '../helper.js'

t.test('under pressure, POSTs get 503 with Retry-After and /ready says 503; GETs keep working', async t => {
  // A heap threshold of one byte is always crossed: the node is permanently "under pressure".
  const server = await listen(t, { shedHeapUsedBytes: 1 })
  await until(async () => (await fetch(`${server.url}/ready`)).status === 503, 'the first memory sample makes /ready answer 503', { intervalMs: 20 })
  const res = await post(server, '/send-message', { sender: 'a', receiver: 'b', message: 'x' })
  t.equal(res.status, 503)
  t.equal(res.headers.get('retry-after'), '5')
  t.match(res.body, { statusCode: 503, error: 'Service Unavailable', message: /^overloaded \(heapUsedBytes\): nothing was sent; retry in 5 s$/ })
  const ready = await fetch(`${server.url}/ready`)
  t.same([ready.status, await ready.json()], [503, { statusCode: 503, error: 'Service Unavailable', message: 'not ready: overloaded, shedding load' }])
  t.equal((await fetch(`${server.url}/health`)).status, 200)
  t.equal((await fetch(`${server.url}/stats`)).status, 200)
})

t.test('shedding logs a line a second at most, with how many requests it refused since the last', async t => {
  // Regression: a line per refused request, 115,000 lines in 5 s of overload, written just when the node had no time.
  const logs = new LogCapture()
  const server = await listen(t, { shedHeapUsedBytes: 1 }, logs)
  await until(async () => (await fetch(`${server.url}/ready`)).status === 503, 'the node sheds', { intervalMs: 20 })
  const send = async () => (await post(server, '/send-message', { sender: 'a', receiver: 'b', message: 'x' })).status
  const refusedCounts = () => logs.lines.filter(line => line.msg === 'load shed').map(line => line.refused)
  t.same(await Promise.all(Array.from({ length: 5 }, send)), [503, 503, 503, 503, 503])
  t.same(refusedCounts(), [1], 'the first at once, the rest counted')
  t.match(logs.find('load shed'), { type: 'heapUsedBytes', value: Number })
  // And as a refusal, with the id of the request it turned away.
  t.match(logs.find('request refused'), { statusCode: 503, route: '/send-message', reqId: String })
  // The rest are logged when the second is up, without waiting for another refusal.
  await until(() => refusedCounts().length === 2, 'the count is logged at the end of the second')
  t.same(refusedCounts(), [1, 4])
  await new Promise(resolve => setTimeout(resolve, 1100))
  t.same(refusedCounts(), [1, 4], 'nothing more when nothing more was refused')
  t.equal(await send(), 503)
  t.same(refusedCounts(), [1, 4, 1], 'after a quiet second, the next one is logged at once')
  // Each refusal is counted where every answer is, whatever the log says.
  const metrics = await (await fetch(`${server.url}/metrics`)).text()
  t.match(metrics, /^pushwire_http_request_duration_seconds_count\{method="POST",route="\/send-message",status_code="503"\} 6$/m)
  // Regression: a shed POST to a path with no route was counted nowhere (the 404 handler, where unmatched requests
  // were counted, never ran).
  t.equal((await post(server, '/send-mesage', { sender: 'a', receiver: 'b', message: 'x' })).status, 503)
  const after = await (await fetch(`${server.url}/metrics`)).text()
  t.match(after, /^pushwire_http_request_duration_seconds_count\{method="POST",route="unmatched",status_code="503"\} 1$/m)
})

t.test('a lagging event loop sheds POSTs too, and says so', async t => {
  const server = await listen(t, { shedEventLoopDelayMs: 5 })
  // Keep the event loop busy 40 ms out of every 50, as a saturated node would be.
  const busy = setInterval(() => { const end = Date.now() + 40; while (Date.now() < end); }, 50)
  t.teardown(() => clearInterval(busy))
  let res = await post(server, '/send-message', { sender: 'a', receiver: 'b', message: 'x' })
  while (res.status !== 503) res = await post(server, '/send-message', { sender: 'a', receiver: 'b', message: 'x' })
  t.equal(res.headers.get('retry-after'), '5')
  t.match(res.body, { message: /^overloaded \(eventLoopDelay\): nothing was sent; retry in 5 s$/ })
  t.equal((await fetch(`${server.url}/health`)).status, 200, 'GETs are never shed')
})

/** Stalls the event loop for `ms` of wall-clock time, `times` times, and notes after each whether the app sheds. */
async function stall (app: { shedding: () => boolean }, ms: number, times: number): Promise<boolean[]> {
  const shedding: boolean[] = []
  for (let i = 0; i < times; i++) {
    const end = Date.now() + ms
    while (Date.now() < end);
    // Lets the overdue timers run: under-pressure's sample, and the event-loop histogram's tick.
    await new Promise(resolve => setTimeout(resolve, 0))
    shedding.push(app.shedding())
  }
  return shedding
}

t.test('stalls shorter than the threshold never shed; longer ones do', async t => {
  // Regression: samples were taken every 250 ms, and under-pressure reads a window without a single loop tick as an
  // infinite delay, so 300 ms stalls against the default 1000 ms threshold shed every POST.
  const server = await listen(t, { shedEventLoopDelayMs: 1000 })
  t.same(await stall(server.app, 300, 8), Array(8).fill(false), '300 ms stalls against a 1000 ms threshold')
  t.equal((await post(server, '/send-message', { sender: 'a', receiver: 'b', message: 'x' })).status, 200)

  const strict = await listen(t, { shedEventLoopDelayMs: 300 })
  // The first window may hold ticks from before the first stall, which pull its mean under the threshold.
  t.ok((await stall(strict.app, 500, 3)).slice(1).every(Boolean), '500 ms stalls against a 300 ms threshold')
})

t.test('the loop is sampled once per delay threshold, or once a second for heap shedding alone', async t => {
  t.equal(sampleIntervalMs(1000), 1000)
  t.equal(sampleIntervalMs(5), 5)
  t.equal(sampleIntervalMs(0), 1000)
})

t.test('the log names the threshold crossed, with a number for its value', async t => {
  t.same(shedCause(1000, { eventLoopDelay: 1500, heapUsed: 9 }), { type: 'eventLoopDelay', value: 1500 })
  t.same(shedCause(1000, { eventLoopDelay: 20, heapUsed: 9 }), { type: 'heapUsedBytes', value: 9 })
  t.same(shedCause(0, { eventLoopDelay: 1500, heapUsed: 9 }), { type: 'heapUsedBytes', value: 9 }, 'loop shedding off')
  // Regression: a window in which the loop never turned reads as an infinite delay, logged as "value":null.
  t.same(shedCause(300, { eventLoopDelay: Infinity, heapUsed: 9 }), { type: 'eventLoopDelay', value: 300, stalled: true })
  t.equal(JSON.parse(JSON.stringify(shedCause(300, { eventLoopDelay: Infinity, heapUsed: 9 }))).value, 300)
})

t.test('with the thresholds at 0, nothing is shed', async t => {
  const server = await listen(t, { shedHeapUsedBytes: 0, shedEventLoopDelayMs: 0 })
  t.equal((await post(server, '/broadcast', { sender: 'a', message: 'x' })).status, 200)
  t.equal((await fetch(`${server.url}/ready`)).status, 200)
})
