import t from 'tap'
import { ConfigError, defaultConfig, loadConfig } from '../src/config.js'

t.test('no variables give the documented defaults', async t => {
  t.same(loadConfig({}), defaultConfig)
  t.same(loadConfig({ PORT: '', HOST: '  ' }), defaultConfig, 'blank values count as unset')
})

t.test('every variable is read and converted', async t => {
  t.same(loadConfig({
    PORT: '8080',
    HOST: '0.0.0.0',
    LOG_LEVEL: 'warn',
    ALLOWED_ORIGINS: 'https://app.example.com, http://localhost:5173',
    MAX_MESSAGE_LENGTH: '5000',
    BODY_LIMIT: '65536',
    MAX_CONNECTIONS_PER_USER: '4',
    HEARTBEAT_INTERVAL_MS: '10000',
    MAX_BUFFERED_BYTES: '2048',
    SHUTDOWN_TIMEOUT_MS: '3000'
  }), {
    port: 8080,
    host: '0.0.0.0',
    logLevel: 'warn',
    allowedOrigins: ['https://app.example.com', 'http://localhost:5173'],
    maxMessageLength: 5000,
    bodyLimit: 65536,
    maxConnectionsPerUser: 4,
    heartbeatIntervalMs: 10000,
    maxBufferedBytes: 2048,
    shutdownTimeoutMs: 3000
  })
  t.equal(loadConfig({ ALLOWED_ORIGINS: '*' }).allowedOrigins, '*')
})

t.test('bad values throw a ConfigError naming the variable', async t => {
  const cases: Array<[Record<string, string>, string]> = [
    [{ PORT: '70000' }, 'PORT'],
    [{ PORT: '3.5' }, 'PORT'],
    [{ BODY_LIMIT: '0' }, 'BODY_LIMIT'],
    [{ MAX_CONNECTIONS_PER_USER: 'many' }, 'MAX_CONNECTIONS_PER_USER'],
    [{ HEARTBEAT_INTERVAL_MS: '-5' }, 'HEARTBEAT_INTERVAL_MS'],
    [{ MAX_BUFFERED_BYTES: '1e99' }, 'MAX_BUFFERED_BYTES'],
    [{ SHUTDOWN_TIMEOUT_MS: 'soon' }, 'SHUTDOWN_TIMEOUT_MS'],
    [{ ALLOWED_ORIGINS: 'https://a.example.com/path' }, 'ALLOWED_ORIGINS'],
    [{ ALLOWED_ORIGINS: 'ftp://a.example.com' }, 'ALLOWED_ORIGINS']
  ]
  for (const [env, variable] of cases) {
    t.throws(() => loadConfig(env), { name: 'ConfigError', variable, message: new RegExp(`^invalid configuration: ${variable} `) }, variable)
  }
  const err = new ConfigError('X', 'is wrong')
  t.equal(err.message, 'invalid configuration: X is wrong')
})
