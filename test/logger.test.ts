import t from 'tap'
import { loggerOptions, prettyLogs } from '../src/logger.js'

t.test('JSON when stdout is not a terminal, pino-pretty when it is', async t => {
  const single = { logLevel: 'warn', redisUrl: null, nodeId: 'n1' }
  const json = loggerOptions(single, false)
  t.equal(json.level, 'warn')
  t.equal(json.transport, undefined)
  t.equal(json.base, undefined, 'one node: pino\'s default pid and hostname')
  t.match(loggerOptions(single, true).transport, { target: 'pino-pretty' })
  t.same(json.redact, ['req.headers.authorization'])
  // Regression: pino's default stream wrote asynchronously, and lines logged during a shutdown came out after its last.
  t.match(json.stream, { fd: 1, sync: true }, 'JSON lines are written in order, each at once')
  t.equal(loggerOptions(single, true).stream, undefined, 'pino-pretty has a stream of its own')
})

t.test('in cluster mode every line carries the node id', async t => {
  t.match(loggerOptions({ logLevel: 'info', redisUrl: 'redis://127.0.0.1:6379', nodeId: 'node-7' }, false).base, { node: 'node-7', pid: process.pid })
})

t.test('pretty lines only for a terminal outside production', async t => {
  t.equal(prettyLogs(true, undefined), true)
  t.equal(prettyLogs(true, 'development'), true)
  // Regression: docker run -t (the image sets NODE_ENV=production) printed coloured text to a JSON log collector.
  t.equal(prettyLogs(true, 'production'), false)
  t.equal(prettyLogs(false, undefined), false)
  t.equal(prettyLogs(undefined, undefined), false, 'Node leaves isTTY unset on a pipe')
})
