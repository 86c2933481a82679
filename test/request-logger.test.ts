import { test } from 'tap'
import { pino } from 'pino'
import type { FastifyBaseLogger } from 'fastify'
import { LogCapture, connect, post } from './helper.js'
import { buildApp } from '../src/app.js'
import { defaultConfig } from '../src/config.js'
import { LazyChildLogger } from '../src/request-logger.js'

/** A real pino logger writing into a capture, with its child() calls counted. */
function parentLogger (level = 'debug') {
  const logs = new LogCapture()
  const parent = pino({ level }, logs)
  let children = 0
  const child = parent.child
  // Children inherit this property, so `this` (not the parent) is whose child is made.
  parent.child = function (this: typeof parent, ...args: Parameters<typeof child>) { children++; return child.apply(this, args) } as typeof child
  return { logs, parent: parent as unknown as FastifyBaseLogger, children: () => children }
}

test('the child logger is made on the first log call only, once, and carries the bindings', async t => {
  const { logs, parent, children } = parentLogger()
  const log = new LazyChildLogger(parent, { reqId: 'r-1' }, {})
  t.equal(children(), 0, 'nothing made while the request logs nothing')
  log.info({ userId: 'alice' }, 'first')
  log.warn('second %s', 'line')
  t.equal(children(), 1)
  t.match(logs.lines, [{ reqId: 'r-1', userId: 'alice', msg: 'first', level: 30 }, { reqId: 'r-1', msg: 'second line', level: 40 }])
})

test('every level reaches the child, silent writes nothing, and the level can be read and changed', async t => {
  const { logs, parent } = parentLogger('trace')
  const log = new LazyChildLogger(parent, { reqId: 'r-2' }, {})
  t.equal(log.level, 'trace')
  log.trace('t')
  log.debug('d')
  log.info('i')
  log.warn('w')
  log.error('e')
  log.fatal('f')
  log.silent('s')
  t.same(logs.lines.map(line => [line.msg, line.level]), [['t', 10], ['d', 20], ['i', 30], ['w', 40], ['e', 50], ['f', 60]])
  log.level = 'error'
  log.info('dropped')
  log.error('kept')
  t.same(logs.lines.slice(6).map(line => line.msg), ['kept'])
})

test('child() of the lazy logger keeps both sets of bindings, and child options (a level) apply', async t => {
  const { logs, parent } = parentLogger()
  const log = new LazyChildLogger(parent, { reqId: 'r-3' }, { level: 'warn' })
  log.info('below the child level')
  log.child({ connId: 'c-1' }).warn('from the grandchild')
  t.same(logs.lines.map(line => [line.reqId, line.connId, line.msg]), [['r-3', 'c-1', 'from the grandchild']])
})

test('in the app, a delivered send makes no child logger; an offline one makes one to log the skip, with its reqId', async t => {
  const logs = new LogCapture()
  let children = 0
  // pino's onChild hook sees every child logger made from the app's logger.
  const app = await buildApp({ ...defaultConfig, shedEventLoopDelayMs: 0 }, { logger: { level: 'info', stream: logs, onChild: () => { children++ } } })
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const server = { app, url: `http://127.0.0.1:${port}`, wsUrl: `ws://127.0.0.1:${port}` }
  const alice = await connect(t, server, '/ws/alice')
  const before = children
  t.equal((await post(server, '/send-message', { sender: 'b', receiver: 'alice', message: 'hi' })).body.status, 'sent')
  await alice.waitFor(1)
  t.equal(children, before, 'no child logger for a send that logs nothing')
  const offline = await post(server, '/send-message', { sender: 'b', receiver: 'nobody', message: 'hi' }, { 'x-request-id': 'trace-me-1' })
  t.equal(offline.body.status, 'offline')
  t.equal(children, before + 1)
  t.match(logs.find('offline, message dropped'), { reqId: 'trace-me-1', receiver: 'nobody', sender: 'b' })
})
