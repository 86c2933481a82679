import t from 'tap'
import { loggerOptions } from '../src/logger.js'

t.test('JSON when stdout is not a terminal, pino-pretty when it is', async t => {
  const json = loggerOptions({ logLevel: 'warn' }, false)
  t.equal(json.level, 'warn')
  t.equal(json.transport, undefined)
  t.match(loggerOptions({ logLevel: 'info' }, true).transport, { target: 'pino-pretty' })
  t.same(json.redact, ['req.headers.authorization'])
})
