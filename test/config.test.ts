import t from 'tap'
import { ConfigError, PRODUCTION_LIMITS, defaultConfig, loadConfig } from '../src/config.js'

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
    BATCH_BODY_LIMIT: '1048576',
    MAX_CONNECTIONS_PER_USER: '4',
    HEARTBEAT_INTERVAL_MS: '10000',
    MAX_BUFFERED_BYTES: '2048',
    SHUTDOWN_TIMEOUT_MS: '3000',
    SHUTDOWN_DELAY_MS: '1000',
    REQUEST_TIMEOUT_MS: '5000',
    REDIS_URL: 'redis://:secret@redis.internal:6379/0',
    NODE_ID: 'pod-7',
    NODE_TTL_MS: '8000',
    METRICS: 'on',
    METRICS_PORT: '9100',
    METRICS_HOST: '10.1.2.3',
    SHED_EVENT_LOOP_DELAY_MS: '250',
    SHED_HEAP_USED_BYTES: '1000000000',
    TRUST_PROXY: '10.0.0.0/8, 127.0.0.1,::1'
  }), {
    port: 8080,
    host: '0.0.0.0',
    logLevel: 'warn',
    allowedOrigins: ['https://app.example.com', 'http://localhost:5173'],
    maxMessageLength: 5000,
    bodyLimit: 65536,
    batchBodyLimit: 1048576,
    maxConnectionsPerUser: 4,
    heartbeatIntervalMs: 10000,
    maxBufferedBytes: 2048,
    shutdownTimeoutMs: 3000,
    shutdownDelayMs: 1000,
    requestTimeoutMs: 5000,
    apiKeys: [],
    jwtSecret: null,
    rateLimitPerMinute: 0,
    upgradeRatePerMinute: 0,
    redisUrl: 'redis://:secret@redis.internal:6379/0',
    nodeId: 'pod-7',
    nodeTtlMs: 8000,
    metrics: true,
    metricsPort: 9100,
    metricsHost: '10.1.2.3',
    shedEventLoopDelayMs: 250,
    shedHeapUsedBytes: 1_000_000_000,
    trustProxy: ['10.0.0.0/8', '127.0.0.1', '::1']
  })
  t.equal(loadConfig({ ALLOWED_ORIGINS: '*' }).allowedOrigins, '*')
  t.equal(loadConfig({}).nodeId, defaultConfig.nodeId, 'a generated node id, the same for the life of the process')
  t.match(defaultConfig.nodeId, /^[A-Za-z0-9_.:-]+-[0-9a-f]{6}$/)
})

t.test('limits that cannot work are refused: together, or against every request', async t => {
  // Regression: each of these started. A healthy client was cut off ~15 ms after connecting, every POST was shed,
  // a message of MAX_MESSAGE_LENGTH characters got a 413, or a batch of one could not carry what a send takes.
  const refused: Array<[Record<string, string>, string]> = [
    [{ HEARTBEAT_INTERVAL_MS: '999' }, 'invalid configuration: HEARTBEAT_INTERVAL_MS must be >= 1000 (got "999")'],
    [{ SHED_HEAP_USED_BYTES: '1' }, 'invalid configuration: SHED_HEAP_USED_BYTES must be 0 (off) or at least 67108864 (64 MiB): an idle node\'s heap is about 30 MiB, so a lower limit sheds every POST (got 1)'],
    [{ SHED_HEAP_USED_BYTES: '99999999999999999999' }, 'invalid configuration: SHED_HEAP_USED_BYTES must be <= 1099511627776 (got "99999999999999999999")'],
    [{ MAX_MESSAGE_LENGTH: '100000', BODY_LIMIT: '400200' }, 'invalid configuration: BODY_LIMIT of 400200 bytes is too small for MAX_MESSAGE_LENGTH 100000: such a message can take 1200200 bytes (12 a character when a JSON encoder escapes it, as Python\'s json.dumps writes 🎉 as \\ud83c\\udf89, and the JSON around it); raise BODY_LIMIT, leave it unset, or lower MAX_MESSAGE_LENGTH'],
    [{ BODY_LIMIT: '12199' }, 'invalid configuration: BODY_LIMIT of 12199 bytes is too small for MAX_MESSAGE_LENGTH 1000: such a message can take 12200 bytes (12 a character when a JSON encoder escapes it, as Python\'s json.dumps writes 🎉 as \\ud83c\\udf89, and the JSON around it); raise BODY_LIMIT, leave it unset, or lower MAX_MESSAGE_LENGTH'],
    [{ MAX_MESSAGE_LENGTH: '1000000', BATCH_BODY_LIMIT: '4194304' }, 'invalid configuration: BATCH_BODY_LIMIT of 4194304 bytes is smaller than BODY_LIMIT (12000200): a batch could not carry the message a single send takes'],
    [{ BATCH_BODY_LIMIT: '10' }, 'invalid configuration: BATCH_BODY_LIMIT of 10 bytes is smaller than BODY_LIMIT (16384): a batch could not carry the message a single send takes'],
    // Regression: a delay that left less than the WebSockets' close grace turned every shutdown into an exit 1.
    [{ SHUTDOWN_DELAY_MS: '8001' }, 'invalid configuration: SHUTDOWN_DELAY_MS of 8001 ms leaves too little of SHUTDOWN_TIMEOUT_MS (10000) for the shutdown: WebSockets get 2000 ms to answer their close; make it shorter, or raise the timeout'],
    [{ SHUTDOWN_DELAY_MS: '5000', SHUTDOWN_TIMEOUT_MS: '3000' }, 'invalid configuration: SHUTDOWN_DELAY_MS of 5000 ms leaves too little of SHUTDOWN_TIMEOUT_MS (3000) for the shutdown: WebSockets get 1500 ms to answer their close; make it shorter, or raise the timeout'],
    [{ API_KEYS: ',' }, 'invalid configuration: API_KEYS lists no key, only separators; give the keys, or leave it unset'],
    [{ API_KEYS: ' , \n ,' }, 'invalid configuration: API_KEYS lists no key, only separators; give the keys, or leave it unset']
  ]
  for (const [env, message] of refused) t.throws(() => loadConfig(env), { name: 'ConfigError', message }, JSON.stringify(env))
  const taken: Array<Record<string, string>> = [
    { HEARTBEAT_INTERVAL_MS: '1000' },
    { SHED_HEAP_USED_BYTES: '0' },
    { SHED_HEAP_USED_BYTES: String(64 * 1024 * 1024) },
    { MAX_MESSAGE_LENGTH: '100000', BODY_LIMIT: '1200200' },
    { MAX_MESSAGE_LENGTH: '1000000' },
    { BODY_LIMIT: '12200' },
    { BATCH_BODY_LIMIT: '16384' },
    { SHUTDOWN_DELAY_MS: '5000', SHUTDOWN_TIMEOUT_MS: '15000' },
    { SHUTDOWN_DELAY_MS: '7999' },
    { API_KEYS: ' ' }
  ]
  for (const env of taken) t.doesNotThrow(() => loadConfig(env), JSON.stringify(env))
})

t.test('the longest message fits the default BODY_LIMIT even when a JSON encoder escapes every character', async t => {
  // Regression: MAX_MESSAGE_LENGTH=4000 started with the default 16 KiB, and 4000 emoji from Python's json.dumps
  // (ensure_ascii, \\ud83c\\udf89 for each) took 48 KB: a message of the allowed length got a 413.
  const escapedBody = (length: number) => JSON.stringify({ sender: 's'.repeat(64), receiver: 'r'.repeat(64), message: '🎉'.repeat(length) })
    .replace(/[\u0080-\uffff]/g, char => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`)
  for (const length of [1000, 4000, 1_000_000]) {
    const config = loadConfig({ MAX_MESSAGE_LENGTH: String(length) })
    t.ok(Buffer.byteLength(escapedBody(length)) <= config.bodyLimit, `MAX_MESSAGE_LENGTH ${length}: BODY_LIMIT ${config.bodyLimit}`)
    t.ok(config.batchBodyLimit >= config.bodyLimit, 'a batch still carries what a send takes')
  }
  t.equal(loadConfig({}).bodyLimit, 16 * 1024, 'the default stays 16 KiB where that is enough')
  t.equal(loadConfig({}).batchBodyLimit, 4 * 1024 * 1024)
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
    [{ REQUEST_TIMEOUT_MS: '0' }, 'REQUEST_TIMEOUT_MS'],
    [{ ALLOWED_ORIGINS: 'https://a.example.com/path' }, 'ALLOWED_ORIGINS'],
    [{ ALLOWED_ORIGINS: 'ftp://a.example.com' }, 'ALLOWED_ORIGINS'],
    [{ ALLOWED_ORIGINS: 'app.example.com' }, 'ALLOWED_ORIGINS'],
    [{ NODE_ID: 'has space' }, 'NODE_ID'],
    [{ NODE_TTL_MS: '10' }, 'NODE_TTL_MS']
  ]
  for (const [env, variable] of cases) {
    t.throws(() => loadConfig(env), { name: 'ConfigError', variable, message: new RegExp(`^invalid configuration: ${variable} `) }, variable)
  }
  // ajv would take these as numbers, as Number() does: 4318, 4300 and 4302.
  for (const port of ['0x10DE', '4.3e3', '0b1000011001110', '-0']) {
    t.throws(() => loadConfig({ PORT: port }), { variable: 'PORT', message: `invalid configuration: PORT must be integer (got ${JSON.stringify(port)})` }, port)
  }
  t.throws(() => loadConfig({ ALLOWED_ORIGINS: ' , ' }), { variable: 'ALLOWED_ORIGINS', message: /list of origins/ }, 'a list with no origin in it')
  // A near-miss says what a browser would send, which is what the list must hold.
  const nearMisses: Array<[string, string]> = [
    ['https://App.Example.com', 'https://app.example.com'],
    ['https://app.example.com/', 'https://app.example.com'],
    ['http://localhost:80', 'http://localhost']
  ]
  for (const [given, origin] of nearMisses) {
    t.throws(() => loadConfig({ ALLOWED_ORIGINS: given }), {
      variable: 'ALLOWED_ORIGINS',
      message: `invalid configuration: ALLOWED_ORIGINS must be * or a comma-separated list of origins like https://app.example.com (got ${JSON.stringify(given)}; a browser would send ${JSON.stringify(origin)})`
    }, given)
  }
  t.throws(() => loadConfig({ ALLOWED_ORIGINS: 'app.example.com' }), { message: /\(got "app\.example\.com"\)$/ }, 'no hint when there is no origin to give')
  // Regression: a URL parser takes "*" as a host name, so this started and then matched only itself: every browser refused.
  t.throws(() => loadConfig({ ALLOWED_ORIGINS: 'https://app.example.com,https://*.example.com' }), {
    variable: 'ALLOWED_ORIGINS',
    message: 'invalid configuration: ALLOWED_ORIGINS takes exact origins, not patterns: list each one, such as https://a.example.com,https://b.example.com (got "https://*.example.com")'
  })
  t.throws(() => loadConfig({ PORT: '9100', METRICS_PORT: '9100' }), { variable: 'METRICS_PORT', message: 'invalid configuration: METRICS_PORT must differ from PORT (both 9100)' })
  // Regression: the node started, and the port it was told to serve metrics on stayed closed without a word.
  t.throws(() => loadConfig({ METRICS: 'off', METRICS_PORT: '9100' }), { variable: 'METRICS_PORT', message: 'invalid configuration: METRICS_PORT is set, but METRICS=off serves no metrics; unset one of them' })
  // Regression for a gap, not a bug: the metrics port could only bind HOST, which is 0.0.0.0 in the image.
  t.equal(loadConfig({ METRICS_PORT: '9100' }).metricsHost, null, 'unset: the metrics port binds HOST')
  t.throws(() => loadConfig({ METRICS_HOST: '10.1.2.3' }), { variable: 'METRICS_HOST', message: 'invalid configuration: METRICS_HOST is set, but without METRICS_PORT /metrics is served on the main port; set METRICS_PORT too, or unset METRICS_HOST' })
  const err = new ConfigError('X', 'is wrong')
  t.equal(err.message, 'invalid configuration: X is wrong')
})

const KEY_A = 'a'.repeat(24)
const KEY_B = 'b'.repeat(40)
const SECRET = 's'.repeat(32)
const production = { NODE_ENV: 'production', API_KEYS: `${KEY_A},${KEY_B}`, JWT_SECRET: SECRET, ALLOWED_ORIGINS: 'https://app.example.com' }

t.test('secrets: several API keys for rotation, a JWT secret, and safe limits in production', async t => {
  const config = loadConfig(production)
  t.same(config.apiKeys, [KEY_A, KEY_B])
  t.equal(config.jwtSecret, SECRET)
  t.same([config.rateLimitPerMinute, config.upgradeRatePerMinute], [PRODUCTION_LIMITS.rateLimitPerMinute, PRODUCTION_LIMITS.upgradeRatePerMinute])
  const off = loadConfig({ ...production, RATE_LIMIT_PER_MINUTE: '0', UPGRADE_RATE_PER_MINUTE: '0' })
  t.same([off.rateLimitPerMinute, off.upgradeRatePerMinute], [0, 0], '0 turns both limits off')
  t.same(loadConfig({ API_KEYS: ` ${KEY_A} , ` }).apiKeys, [KEY_A], 'blanks around keys are ignored')
})

t.test('TRUST_PROXY: off by default, or the proxies\' addresses; anything else is named', async t => {
  t.equal(loadConfig({}).trustProxy, false)
  t.same(loadConfig({ TRUST_PROXY: 'loopback,uniquelocal, fd00::/8,::ffff:10.0.5.0/120' }).trustProxy, ['loopback', 'uniquelocal', 'fd00::/8', '::ffff:10.0.5.0/120'])
  t.same(loadConfig({ TRUST_PROXY: '::ffff:10.0.0.0/97' }).trustProxy, ['::ffff:10.0.0.0/97'], 'the widest IPv4-mapped range still allowed (IPv4 /1)')
  // A hop count is refused: Fastify 5 would ignore the header with one, as it cannot tell proxies from clients.
  // Ranges that trust every address are refused too: /0, and an IPv4-mapped range at /96 or wider, which proxy-addr
  // turns into IPv4 /0 (any client could then name its own address).
  for (const bad of ['0.0.0.0/0', '::/0', '::ffff:10.0.0.0/96', '::ffff:0:0/80', '10.0.0.0/8/8', '10.0.0.0/x', 'true', '1', '10.0.0.0/33', '::/129', '10.0.0.300', 'proxy.internal', '1.5', ',', '127.0.0.1,,']) {
    t.throws(() => loadConfig({ TRUST_PROXY: bad }), {
      variable: 'TRUST_PROXY',
      message: /^invalid configuration: TRUST_PROXY must be a comma-separated list of your proxies' addresses or CIDR ranges, or loopback, linklocal or uniquelocal \(got ".*"\)$/
    }, bad)
  }
})

t.test('production refuses to start without API_KEYS, JWT_SECRET and ALLOWED_ORIGINS unless AUTH=off', async t => {
  t.throws(() => loadConfig({ NODE_ENV: 'production' }), {
    variable: 'API_KEYS, JWT_SECRET, ALLOWED_ORIGINS',
    message: /must be set when NODE_ENV=production .*set AUTH=off to run open deliberately/
  })
  // Set, but to '*': the line says what is wrong with it rather than that it is missing.
  t.throws(() => loadConfig({ ...production, ALLOWED_ORIGINS: '*' }), { name: 'ConfigError', variable: 'ALLOWED_ORIGINS', message: 'invalid configuration: ALLOWED_ORIGINS must list the origins of your pages when NODE_ENV=production, not *; or set AUTH=off to run open deliberately' })
  t.throws(() => loadConfig({ ...production, JWT_SECRET: '' }), { name: 'ConfigError', variable: 'JWT_SECRET' })
  const open = loadConfig({ NODE_ENV: 'production', AUTH: 'off' })
  t.same([open.apiKeys, open.jwtSecret, open.allowedOrigins], [[], null, '*'])
  t.same(loadConfig({ ...production, AUTH: 'off' }).apiKeys, [], 'AUTH=off ignores the secrets')
  t.throws(() => loadConfig({ AUTH: 'maybe' }), { variable: 'AUTH', message: /must be one of on, off/ })
})

// A misspelt production (NODE_ENV=prod, Production) would otherwise start open: no keys, no limits, any origin.
t.test('a NODE_ENV that looks like production but is not exactly it stops start-up', async t => {
  for (const near of ['prod', 'Production', 'PRODUCTION', 'production1', 'prd']) {
    t.throws(() => loadConfig({ ...production, NODE_ENV: near }), {
      name: 'ConfigError',
      variable: 'NODE_ENV',
      message: `invalid configuration: NODE_ENV must be exactly "production" for the production defaults (got ${JSON.stringify(near)})`
    }, near)
  }
  for (const other of ['development', 'test', 'staging', 'dev']) t.equal(loadConfig({ NODE_ENV: other }).apiKeys.length, 0, other)
})

t.test('a REDIS_URL that is not a URL is refused in one line that never echoes it (it may hold a password)', async t => {
  for (const url of ['redis://:S3cretPW@127.0.0.1:abc', 'redis://:S3cretPW@127.0.0.1:99999', 'redis://:S3cretPW@[::1']) {
    t.throws(() => loadConfig({ REDIS_URL: url }), { variable: 'REDIS_URL', message: 'invalid configuration: REDIS_URL must be a redis:// or rediss:// URL' }, url)
  }
  t.equal(loadConfig({ REDIS_URL: 'rediss://default:pw@[::1]:6380/2' }).redisUrl, 'rediss://default:pw@[::1]:6380/2')
})

t.test('a REDIS_URL whose database is not a number is refused in one line, without echoing it', async t => {
  // Regression: ioredis sent SELECT NaN and its uncaught ReplyError took the process down with a stack trace.
  for (const url of ['redis://:S3cretPW@127.0.0.1:6379/abc', 'redis://:S3cretPW@127.0.0.1:6379/-1', 'redis://:S3cretPW@127.0.0.1:6379/1.5', 'redis://:S3cretPW@127.0.0.1:6379/0/x', 'redis://:S3cretPW@127.0.0.1:6379?db=two']) {
    t.throws(() => loadConfig({ REDIS_URL: url }), { variable: 'REDIS_URL', message: 'invalid configuration: REDIS_URL must name its database as a number (redis://host:6379/0)' }, url)
  }
  for (const url of ['redis://127.0.0.1:6379', 'redis://127.0.0.1:6379/', 'redis://127.0.0.1:6379/15', 'redis://127.0.0.1:6379?db=3']) t.equal(loadConfig({ REDIS_URL: url }).redisUrl, url)
  // Regression: no host meant 127.0.0.1:6379 without a word, so a templated host that came out empty ran on localhost.
  for (const url of ['redis://', 'rediss:///2', 'redis://?db=1']) {
    t.throws(() => loadConfig({ REDIS_URL: url }), { variable: 'REDIS_URL', message: 'invalid configuration: REDIS_URL must name a host (redis://host:6379)' }, url)
  }
})

t.test('API keys: one per line works like commas; a key no Authorization header can carry is refused, unechoed', async t => {
  // Regression: a space, a tab or a character outside ASCII inside a key was accepted, and every POST was then a 401.
  t.same(loadConfig({ API_KEYS: `${KEY_A}\n${KEY_B}\r\n` }).apiKeys, [KEY_A, KEY_B], 'a keys file, one per line')
  for (const bad of [`${KEY_A} x`, `x\t${KEY_A}`, `${KEY_A}é`, `${KEY_A}\u0000`]) {
    t.throws(() => loadConfig({ API_KEYS: `${KEY_B},${bad}` }), { variable: 'API_KEYS', message: 'invalid configuration: API_KEYS key #2 has a space or a character outside printable ASCII, which no Authorization header can carry; use long random keys, e.g. openssl rand -hex 32' }, JSON.stringify(bad))
  }
})

t.test('weak secrets are refused, and never echoed', async t => {
  const shortKey = 'short-key-123'
  const shortSecret = 'tiny-secret'
  t.throws(() => loadConfig({ API_KEYS: `${KEY_A},${shortKey}` }), { variable: 'API_KEYS', message: /key #2 is shorter than 24 characters/ })
  t.throws(() => loadConfig({ JWT_SECRET: shortSecret }), { variable: 'JWT_SECRET', message: /shorter than 32 bytes/ })
  for (const env of [{ API_KEYS: shortKey }, { JWT_SECRET: shortSecret }]) {
    try {
      loadConfig(env)
    } catch (err) {
      t.notMatch((err as Error).message, /short-key|tiny-secret/)
    }
  }
})

t.test('a bad REDIS_URL is named but never echoed: it may hold a password', async t => {
  t.throws(() => loadConfig({ REDIS_URL: 'http://:hunter2@redis:6379' }), {
    name: 'ConfigError',
    variable: 'REDIS_URL',
    message: 'invalid configuration: REDIS_URL must be a redis:// or rediss:// URL'
  })
})
