import t from 'tap'
import { listen, post } from '../helper.js'

t.test('under pressure, POSTs get 503 with Retry-After and /ready says 503; GETs keep working', async t => {
  // A heap threshold of one byte is always crossed: the node is permanently "under pressure".
  const server = await listen(t, { shedHeapUsedBytes: 1 })
  // Wait for the first memory sample.
  while ((await fetch(`${server.url}/ready`)).status !== 503) await new Promise(resolve => setTimeout(resolve, 20))
  const res = await post(server, '/send-message', { sender: 'a', receiver: 'b', message: 'x' })
  t.equal(res.status, 503)
  t.equal(res.headers.get('retry-after'), '5')
  t.match(res.body, { statusCode: 503, error: 'Service Unavailable', message: /^overloaded \(heapUsedBytes\): nothing was sent; retry in 5 s$/ })
  const ready = await fetch(`${server.url}/ready`)
  t.same([ready.status, await ready.json()], [503, { statusCode: 503, error: 'Service Unavailable', message: 'not ready: overloaded, shedding load' }])
  t.equal((await fetch(`${server.url}/health`)).status, 200)
  t.equal((await fetch(`${server.url}/stats`)).status, 200)
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

t.test('with the thresholds at 0, nothing is shed', async t => {
  const server = await listen(t, { shedHeapUsedBytes: 0, shedEventLoopDelayMs: 0 })
  t.equal((await post(server, '/broadcast', { sender: 'a', message: 'x' })).status, 200)
  t.equal((await fetch(`${server.url}/ready`)).status, 200)
})
