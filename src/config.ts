// Configuration: one typed object, read from the environment once at start-up.
// Tests and embedders build a Config directly (see `defaultConfig`), never through env vars.
import { randomBytes } from 'node:crypto'
import { isIP } from 'node:net'
import { hostname } from 'node:os'
import envSchema from 'env-schema'
import { Type, type Static } from '@sinclair/typebox'

export type AllowedOrigins = '*' | string[]

export interface Config {
  port: number
  host: string
  logLevel: string
  /** '*' allows any origin; otherwise the exact origins allowed for CORS and WebSocket upgrades. */
  allowedOrigins: AllowedOrigins
  maxMessageLength: number
  bodyLimit: number
  /** Body limit of POST /send-batch alone (up to 1000 messages). */
  batchBodyLimit: number
  maxConnectionsPerUser: number
  heartbeatIntervalMs: number
  maxBufferedBytes: number
  shutdownTimeoutMs: number
  /** After a stop signal, how long the node serves on with /ready failing before its shutdown begins. */
  shutdownDelayMs: number
  /** The longest a client may take to send a whole request, headers and body (408 after it). */
  requestTimeoutMs: number
  /** Publisher keys for the POST routes; empty means publishing is open. */
  apiKeys: string[]
  /** HS256 secret for receiver tokens; null means receiving is open. */
  jwtSecret: string | null
  /** POST requests per minute per API key (per IP in open mode); 0 turns the limit off. */
  rateLimitPerMinute: number
  /** WebSocket upgrades per minute per IP; 0 turns the limit off. */
  upgradeRatePerMinute: number
  /** Cluster mode when set: nodes share receivers through Redis pub/sub. */
  redisUrl: string | null
  /** This node's id in logs, /stats and Redis; stable for the life of the process. */
  nodeId: string
  /** A node that stops sending heartbeats leaves cluster presence within this time. */
  nodeTtlMs: number
  /** Prometheus metrics at /metrics; off only to measure what they cost. */
  metrics: boolean
  /** Serve /metrics on this port instead of the main one; null keeps it on the main port. */
  metricsPort: number | null
  /** The address METRICS_PORT binds; null binds HOST. */
  metricsHost: string | null
  /** Load shedding: POSTs answer 503 while the event loop lags more than this (ms); 0 turns it off. */
  shedEventLoopDelayMs: number
  /** Load shedding: POSTs answer 503 while the V8 heap holds more than this (bytes); 0 turns it off. */
  shedHeapUsedBytes: number
  /** Whose X-Forwarded-For to believe (Fastify's trustProxy): nobody's, or that of the proxies at these addresses. */
  trustProxy: false | string[]
}

export const MIN_API_KEY_LENGTH = 24
export const MIN_JWT_SECRET_BYTES = 32
/** A send's body around its text: two user ids of up to 64 characters, the keys and the punctuation. */
const MESSAGE_ENVELOPE_BYTES = 200
/**
 * The most bytes one character of a message can take in a body: a JSON encoder may escape it, and Python's
 * json.dumps does by default, writing 🎉 as \ud83c\udf89.
 */
const ESCAPED_CHARACTER_BYTES = 12
const MIN_SHED_HEAP_USED_BYTES = 64 * 1024 * 1024
/** Limits that apply under NODE_ENV=production unless set; elsewhere the limits are off unless set. */
export const PRODUCTION_LIMITS = { rateLimitPerMinute: 60_000, upgradeRatePerMinute: 1200 }

export const defaultConfig: Readonly<Config> = Object.freeze({
  port: 3000,
  host: '127.0.0.1',
  logLevel: 'info',
  allowedOrigins: '*',
  maxMessageLength: 1000,
  bodyLimit: 16 * 1024,
  batchBodyLimit: 4 * 1024 * 1024,
  maxConnectionsPerUser: 16,
  heartbeatIntervalMs: 30_000,
  maxBufferedBytes: 1024 * 1024,
  shutdownTimeoutMs: 10_000,
  shutdownDelayMs: 0,
  requestTimeoutMs: 30_000,
  apiKeys: [],
  jwtSecret: null,
  rateLimitPerMinute: 0,
  upgradeRatePerMinute: 0,
  redisUrl: null,
  nodeId: `${hostname().replace(/[^A-Za-z0-9_.:-]/g, '-').slice(0, 48)}-${randomBytes(3).toString('hex')}`,
  nodeTtlMs: 5000,
  metrics: true,
  metricsPort: null,
  metricsHost: null,
  shedEventLoopDelayMs: 1000,
  shedHeapUsedBytes: 0,
  trustProxy: false
})

const positive = (max = 2 ** 31 - 1) => Type.Integer({ minimum: 1, maximum: max })

/** The environment contract. Every variable is optional; a present one must be valid. */
const EnvSchema = Type.Partial(Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535 }),
  HOST: Type.String({ minLength: 1 }),
  LOG_LEVEL: Type.Unsafe<string>({ type: 'string', enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] }),
  ALLOWED_ORIGINS: Type.String({ minLength: 1 }),
  MAX_MESSAGE_LENGTH: positive(1_000_000),
  BODY_LIMIT: positive(64 * 1024 * 1024),
  BATCH_BODY_LIMIT: positive(256 * 1024 * 1024),
  MAX_CONNECTIONS_PER_USER: positive(100_000),
  // Below a second a healthy client's pong may come after the next ping, and it is cut off.
  HEARTBEAT_INTERVAL_MS: Type.Integer({ minimum: 1000, maximum: 24 * 3600 * 1000 }),
  MAX_BUFFERED_BYTES: positive(1024 * 1024 * 1024),
  SHUTDOWN_TIMEOUT_MS: positive(10 * 60 * 1000),
  SHUTDOWN_DELAY_MS: Type.Integer({ minimum: 0, maximum: 10 * 60 * 1000 }),
  REQUEST_TIMEOUT_MS: positive(60 * 60 * 1000),
  NODE_ENV: Type.String(),
  AUTH: Type.Unsafe<'on' | 'off'>({ type: 'string', enum: ['on', 'off'] }),
  RATE_LIMIT_PER_MINUTE: Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1 }),
  UPGRADE_RATE_PER_MINUTE: Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1 }),
  REDIS_URL: Type.String({ pattern: '^rediss?://' }),
  NODE_ID: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.:-]+$' }),
  NODE_TTL_MS: Type.Integer({ minimum: 1000, maximum: 10 * 60 * 1000 }),
  METRICS: Type.Unsafe<'on' | 'off'>({ type: 'string', enum: ['on', 'off'] }),
  METRICS_PORT: Type.Integer({ minimum: 1, maximum: 65535 }),
  METRICS_HOST: Type.String({ minLength: 1 }),
  SHED_EVENT_LOOP_DELAY_MS: Type.Integer({ minimum: 0, maximum: 60_000 }),
  SHED_HEAP_USED_BYTES: Type.Integer({ minimum: 0, maximum: 2 ** 40 }),
  TRUST_PROXY: Type.String()
}))

type Env = Static<typeof EnvSchema>

const PATTERN_HINTS: Record<string, string> = {
  REDIS_URL: 'must be a redis:// or rediss:// URL',
  NODE_ID: 'must be 1-64 characters from A-Z a-z 0-9 _ - . :'
}

/** How long a socket the node closes (at a shutdown, or as a slow consumer) has to answer the close handshake. */
export function closeGraceMs (shutdownTimeoutMs: number): number {
  return Math.min(2000, Math.floor(shutdownTimeoutMs / 2))
}

/** A start-up configuration error: its message is the one line printed before exiting. */
export class ConfigError extends Error {
  constructor (readonly variable: string, detail: string) {
    super(`invalid configuration: ${variable} ${detail}`)
    this.name = 'ConfigError'
  }
}

/** A setting that passed its checks but that what it names refused while the node started (Redis, for REDIS_URL). */
export class StartError extends Error {
  constructor (variable: string, detail: string) {
    super(`${variable}: ${detail}`)
    this.name = 'StartError'
  }
}

interface AjvIssue { instancePath: string, message?: string, params: Record<string, unknown> }

/** What ioredis would otherwise fail on with a stack trace, which may print the URL's password. */
function checkRedisUrl (value: string): void {
  // The redis:// prefix alone let "redis://:pw@host:abc" through.
  if (!URL.canParse(value)) throw new ConfigError('REDIS_URL', PATTERN_HINTS.REDIS_URL as string)
  // The database, in the path (/2) or the db parameter: ioredis would send SELECT NaN and crash.
  const url = new URL(value)
  // ioredis would take an empty host for 127.0.0.1: a templated host that came out empty would run on localhost.
  if (url.hostname === '') throw new ConfigError('REDIS_URL', 'must name a host (redis://host:6379)')
  const db = url.searchParams.get('db')
  if (!/^\/?(\d+)?$/.test(url.pathname) || (db !== null && !/^\d+$/.test(db))) {
    throw new ConfigError('REDIS_URL', 'must name its database as a number (redis://host:6379/0)')
  }
}

/** Reads and validates the environment. Throws ConfigError naming the first bad variable. */
export function loadConfig (env: NodeJS.ProcessEnv): Config {
  // Only our own variables are validated; blank ones count as unset, as shells often export them empty.
  // Secrets are read apart, so that no error message can ever echo one.
  const names = Object.keys(EnvSchema.properties)
  const data: Record<string, string> = {}
  for (const name of names) {
    const value = env[name]
    if (value !== undefined && value.trim() !== '') data[name] = value.trim()
  }
  let parsed: Env
  try {
    parsed = envSchema<Env>({ schema: structuredClone(EnvSchema), data, env: false, dotenv: false })
  } catch (err) {
    // env-schema's error carries ajv's list; each entry names the variable in its instancePath.
    const issue = (err as { errors: AjvIssue[] }).errors[0] as AjvIssue
    const variable = issue.instancePath.slice(1)
    // A Redis URL may carry a password, so its value is never echoed.
    const got = variable === 'REDIS_URL' ? '' : ` (got ${JSON.stringify(data[variable])})`
    throw new ConfigError(variable, `${PATTERN_HINTS[variable] ?? describe(issue)}${got}`)
  }
  checkDecimal(data)
  checkLimits(parsed)
  if (parsed.METRICS_PORT !== undefined && parsed.METRICS_PORT === (parsed.PORT ?? defaultConfig.port)) {
    throw new ConfigError('METRICS_PORT', `must differ from PORT (both ${parsed.METRICS_PORT})`)
  }
  if (parsed.METRICS_PORT !== undefined && parsed.METRICS === 'off') {
    throw new ConfigError('METRICS_PORT', 'is set, but METRICS=off serves no metrics; unset one of them')
  }
  if (parsed.METRICS_HOST !== undefined && parsed.METRICS_PORT === undefined) {
    throw new ConfigError('METRICS_HOST', 'is set, but without METRICS_PORT /metrics is served on the main port; set METRICS_PORT too, or unset METRICS_HOST')
  }
  if (parsed.REDIS_URL !== undefined) checkRedisUrl(parsed.REDIS_URL)
  const production = parsed.NODE_ENV === 'production'
  // A misspelt production (prod, Production) would otherwise start open: no keys, no limits, any origin.
  if (!production && parsed.NODE_ENV !== undefined && /^pro?d/i.test(parsed.NODE_ENV)) {
    throw new ConfigError('NODE_ENV', `must be exactly "production" for the production defaults (got ${JSON.stringify(parsed.NODE_ENV)})`)
  }
  const auth = parsed.AUTH === 'off' ? { apiKeys: [], jwtSecret: null } : readSecrets(env)
  const allowedOrigins = parseOrigins(parsed.ALLOWED_ORIGINS)
  if (production && parsed.AUTH !== 'off') {
    const missing = [
      auth.apiKeys.length === 0 ? 'API_KEYS' : null,
      auth.jwtSecret === null ? 'JWT_SECRET' : null,
      allowedOrigins === '*' ? 'ALLOWED_ORIGINS' : null
    ].filter(name => name !== null)
    if (parsed.ALLOWED_ORIGINS !== undefined && allowedOrigins === '*') {
      throw new ConfigError('ALLOWED_ORIGINS', 'must list the origins of your pages when NODE_ENV=production, not *; or set AUTH=off to run open deliberately')
    }
    if (missing.length > 0) {
      throw new ConfigError(missing.join(', '), 'must be set when NODE_ENV=production (API_KEYS, JWT_SECRET and a list of ALLOWED_ORIGINS); set them, or set AUTH=off to run open deliberately')
    }
  }
  const limits = production ? PRODUCTION_LIMITS : defaultConfig
  return {
    ...auth,
    rateLimitPerMinute: parsed.RATE_LIMIT_PER_MINUTE ?? limits.rateLimitPerMinute,
    upgradeRatePerMinute: parsed.UPGRADE_RATE_PER_MINUTE ?? limits.upgradeRatePerMinute,
    allowedOrigins,
    redisUrl: parsed.REDIS_URL ?? null,
    nodeId: parsed.NODE_ID ?? defaultConfig.nodeId,
    nodeTtlMs: parsed.NODE_TTL_MS ?? defaultConfig.nodeTtlMs,
    metrics: parsed.METRICS !== 'off',
    metricsPort: parsed.METRICS_PORT ?? null,
    metricsHost: parsed.METRICS_HOST ?? null,
    shedEventLoopDelayMs: parsed.SHED_EVENT_LOOP_DELAY_MS ?? defaultConfig.shedEventLoopDelayMs,
    shedHeapUsedBytes: parsed.SHED_HEAP_USED_BYTES ?? defaultConfig.shedHeapUsedBytes,
    port: parsed.PORT ?? defaultConfig.port,
    host: parsed.HOST ?? defaultConfig.host,
    logLevel: parsed.LOG_LEVEL ?? defaultConfig.logLevel,
    maxMessageLength: parsed.MAX_MESSAGE_LENGTH ?? defaultConfig.maxMessageLength,
    bodyLimit: bodyLimitOf(parsed),
    batchBodyLimit: batchBodyLimitOf(parsed),
    maxConnectionsPerUser: parsed.MAX_CONNECTIONS_PER_USER ?? defaultConfig.maxConnectionsPerUser,
    heartbeatIntervalMs: parsed.HEARTBEAT_INTERVAL_MS ?? defaultConfig.heartbeatIntervalMs,
    maxBufferedBytes: parsed.MAX_BUFFERED_BYTES ?? defaultConfig.maxBufferedBytes,
    shutdownTimeoutMs: parsed.SHUTDOWN_TIMEOUT_MS ?? defaultConfig.shutdownTimeoutMs,
    shutdownDelayMs: parsed.SHUTDOWN_DELAY_MS ?? defaultConfig.shutdownDelayMs,
    requestTimeoutMs: parsed.REQUEST_TIMEOUT_MS ?? defaultConfig.requestTimeoutMs,
    trustProxy: parseTrustProxy(parsed.TRUST_PROXY)
  }
}

/** The largest body a send of the longest message can need, however its client encodes it. */
function largestSendBytes (maxMessageLength: number): number {
  return ESCAPED_CHARACTER_BYTES * maxMessageLength + MESSAGE_ENVELOPE_BYTES
}

/** BODY_LIMIT, or by default 16 KiB, raised to what the longest message can take when MAX_MESSAGE_LENGTH needs it. */
function bodyLimitOf (parsed: Env): number {
  return parsed.BODY_LIMIT ?? Math.max(defaultConfig.bodyLimit, largestSendBytes(parsed.MAX_MESSAGE_LENGTH ?? defaultConfig.maxMessageLength))
}

/** BATCH_BODY_LIMIT, or by default 4 MiB, raised to the body limit: a batch of one carries what a send takes. */
function batchBodyLimitOf (parsed: Env): number {
  return parsed.BATCH_BODY_LIMIT ?? Math.max(defaultConfig.batchBodyLimit, bodyLimitOf(parsed))
}

/** Limits that pass one by one but cannot work together, or would turn every request away. */
function checkLimits (parsed: Env): void {
  const maxMessageLength = parsed.MAX_MESSAGE_LENGTH ?? defaultConfig.maxMessageLength
  const bodyLimit = bodyLimitOf(parsed)
  const largestSend = largestSendBytes(maxMessageLength)
  if (bodyLimit < largestSend) {
    throw new ConfigError('BODY_LIMIT', `of ${bodyLimit} bytes is too small for MAX_MESSAGE_LENGTH ${maxMessageLength}: such a message can take ${largestSend} bytes (12 a character when a JSON encoder escapes it, as Python's json.dumps writes 🎉 as \\ud83c\\udf89, and the JSON around it); raise BODY_LIMIT, leave it unset, or lower MAX_MESSAGE_LENGTH`)
  }
  const batchBodyLimit = batchBodyLimitOf(parsed)
  if (batchBodyLimit < bodyLimit) {
    throw new ConfigError('BATCH_BODY_LIMIT', `of ${batchBodyLimit} bytes is smaller than BODY_LIMIT (${bodyLimit}): a batch could not carry the message a single send takes`)
  }
  const shutdownTimeoutMs = parsed.SHUTDOWN_TIMEOUT_MS ?? defaultConfig.shutdownTimeoutMs
  const grace = closeGraceMs(shutdownTimeoutMs)
  if ((parsed.SHUTDOWN_DELAY_MS ?? 0) + grace > shutdownTimeoutMs) {
    throw new ConfigError('SHUTDOWN_DELAY_MS', `of ${String(parsed.SHUTDOWN_DELAY_MS)} ms leaves too little of SHUTDOWN_TIMEOUT_MS (${shutdownTimeoutMs}) for the shutdown: WebSockets get ${grace} ms to answer their close; make it shorter, or raise the timeout`)
  }
  const heap = parsed.SHED_HEAP_USED_BYTES ?? 0
  if (heap > 0 && heap < MIN_SHED_HEAP_USED_BYTES) {
    throw new ConfigError('SHED_HEAP_USED_BYTES', `must be 0 (off) or at least ${MIN_SHED_HEAP_USED_BYTES} (64 MiB): an idle node's heap is about 30 MiB, so a lower limit sheds every POST (got ${heap})`)
  }
}

/** ajv coerces as Number() does, so "0x10DE", "4.3e3" and "0b101" would pass as integers: only decimal digits do. */
function checkDecimal (data: Record<string, string>): void {
  for (const [name, value] of Object.entries(data)) {
    const { type } = EnvSchema.properties[name as keyof Env]
    if (type === 'integer' && !/^\d+$/.test(value)) throw new ConfigError(name, `must be integer (got ${JSON.stringify(value)})`)
  }
}

function describe (issue: AjvIssue): string {
  const allowed = issue.params.allowedValues as string[] | undefined
  return allowed === undefined ? String(issue.message) : `must be one of ${allowed.join(', ')}`
}

/** API_KEYS (comma-separated, for rotation) and JWT_SECRET, refused when weak. Never echoed. */
function readSecrets (env: NodeJS.ProcessEnv): Pick<Config, 'apiKeys' | 'jwtSecret'> {
  // Comma-separated, or one per line (API_KEYS="$(cat keys.txt)").
  const apiKeys = (env.API_KEYS ?? '').split(/[,\n]/).map(key => key.trim()).filter(key => key !== '')
  // A template whose values came out empty ("${A},${B}") would otherwise run open: only a blank value means unset.
  if (apiKeys.length === 0 && (env.API_KEYS ?? '').trim() !== '') throw new ConfigError('API_KEYS', 'lists no key, only separators; give the keys, or leave it unset')
  const weak = apiKeys.findIndex(key => key.length < MIN_API_KEY_LENGTH)
  if (weak !== -1) {
    throw new ConfigError('API_KEYS', `key #${weak + 1} is shorter than ${MIN_API_KEY_LENGTH} characters; use long random keys, e.g. openssl rand -hex 32`)
  }
  // "Bearer <key>" takes one run of visible ASCII: any other key could never be sent, and every POST would be a 401.
  const unsendable = apiKeys.findIndex(key => !/^[!-~]+$/.test(key))
  if (unsendable !== -1) {
    throw new ConfigError('API_KEYS', `key #${unsendable + 1} has a space or a character outside printable ASCII, which no Authorization header can carry; use long random keys, e.g. openssl rand -hex 32`)
  }
  const secret = env.JWT_SECRET?.trim() ?? ''
  if (secret !== '' && Buffer.byteLength(secret) < MIN_JWT_SECRET_BYTES) {
    throw new ConfigError('JWT_SECRET', `is shorter than ${MIN_JWT_SECRET_BYTES} bytes; use a long random secret, e.g. openssl rand -hex 32`)
  }
  return { apiKeys, jwtSecret: secret === '' ? null : secret }
}

/** `*` (or unset) means any origin; otherwise a comma-separated list of exact origins such as https://app.example.com. */
function parseOrigins (value: string | undefined): AllowedOrigins {
  if (value === undefined || value === '*') return '*'
  const origins = value.split(',').map(o => o.trim()).filter(o => o !== '')
  // A URL parser takes "*" as a host name: a pattern would start, then match only itself.
  const pattern = origins.find(origin => origin.includes('*'))
  if (pattern !== undefined) {
    throw new ConfigError('ALLOWED_ORIGINS', `takes exact origins, not patterns: list each one, such as https://a.example.com,https://b.example.com (got ${JSON.stringify(pattern)})`)
  }
  // The first bad origin is named; a list with none in it (",") is named whole.
  const bad = origins.length === 0 ? value : origins.find(origin => !isOrigin(origin))
  if (bad !== undefined) {
    throw new ConfigError('ALLOWED_ORIGINS', `must be * or a comma-separated list of origins like https://app.example.com (got ${JSON.stringify(bad)}${originHint(bad)})`)
  }
  return origins
}

/** The proxy-addr ranges Fastify takes by name. */
const PROXY_RANGES = new Set(['loopback', 'linklocal', 'uniquelocal'])

/**
 * Proxies as addresses, CIDR ranges or named ranges, checked here (Fastify would throw a stack trace). No hop count:
 * Fastify 5 ignores X-Forwarded-For with one, since it cannot tell a proxy from a client that sends the header.
 */
function parseTrustProxy (value: string | undefined): Config['trustProxy'] {
  if (value === undefined) return false
  const proxies = value.split(',').map(proxy => proxy.trim())
  if (!proxies.every(proxy => PROXY_RANGES.has(proxy) || isAddressOrRange(proxy))) {
    throw new ConfigError('TRUST_PROXY', `must be a comma-separated list of your proxies' addresses or CIDR ranges, or loopback, linklocal or uniquelocal (got ${JSON.stringify(value)})`)
  }
  return proxies
}

function isAddressOrRange (value: string): boolean {
  const [address, bits, ...rest] = value.split('/') as [string, string | undefined]
  const family = isIP(address)
  if (family === 0 || rest.length > 0) return false
  if (bits === undefined) return true
  const prefix = /^\d+$/.test(bits) ? Number(bits) : -1
  // A range that trusts every address (/0) would let any client name its own. proxy-addr reads an IPv4-mapped IPv6
  // range as the IPv4 range it maps, so ::ffff:10.0.0.0/96 is IPv4 /0 (the URL parser spells the address canonically).
  const mapped = family === 6 && new URL(`http://[${address}]`).hostname.startsWith('[::ffff:')
  return prefix >= (mapped ? 97 : 1) && prefix <= (family === 4 ? 32 : 128)
}

/** A browser sends its Origin lowercased, without a path or a default port: the form of a near-miss it would match. */
function originHint (value: string): string {
  const origin = URL.canParse(value) ? new URL(value).origin : 'null'
  return origin.startsWith('http') ? `; a browser would send ${JSON.stringify(origin)}` : ''
}

function isOrigin (value: string): boolean {
  try {
    const url = new URL(value)
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === value
  } catch {
    return false
  }
}
