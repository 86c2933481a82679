import t from 'tap'
import { buildApp } from '../../src/app.js'
import { defaultConfig } from '../../src/config.js'
import { errorBody } from '../../src/plugins/error-handler.js'

t.test('errorBody names the status, with a generic name for unnamed codes', async t => {
  t.same(errorBody(429, 'slow down'), { statusCode: 429, error: 'Too Many Requests', message: 'slow down' })
  t.same(errorBody(499, 'gone'), { statusCode: 499, error: 'Error', message: 'gone' })
})

t.test('buildApp without options gives a ready, non-listening app', async t => {
  const app = await buildApp(defaultConfig)
  t.teardown(() => app.close())
  t.equal((await app.inject('/health')).statusCode, 200)
  t.equal(app.server.listening, false, 'ready, not listening')
})
