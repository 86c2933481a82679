// Configuration: one typed object, read from the environment once at start-up.
// Tests and embedders build a Config directly (see `defaultConfig`), never through env vars.
import envSchema from 'env-schema'
import { Type, type Static } from '@sinclair/typebox'

export type AllowedOrigins = '*' | string[]

export interface Config {
  port: number
  host: string
  logLevel: string
  /** '*' allows any origin; otherwise the exact origins allowed for CORS (and, later, WebSocket upgrades). */
  allowedOrigins: AllowedOrigins
  maxMessageLength: number
  bodyLimit: number
  maxConnectionsPerUser: number
  heartbeatIntervalMs: number
  maxBufferedBytes: number
  shutdownTimeoutMs: number
}

export const defaultConfig: Readonly<Config> = Object.freeze({
  port: 3000,
  host: '127.0.0.1',
  logLevel: 'info',
  allowedOrigins: '*',
  maxMessageLength: 1000,
  bodyLimit: 16 * 1024,
  maxConnectionsPerUser: 16,
  heartbeatIntervalMs: 30_000,
  maxBufferedBytes: 1024 * 1024,
  shutdownTimeoutMs: 10_000
})

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

const positive = (max = 2 ** 31 - 1) => Type.Integer({ minimum: 1, maximum: max })

/** The environment contract. Every variable is optional; a present one must be valid. */
const EnvSchema = Type.Partial(Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535 }),
  HOST: Type.String({ minLength: 1 }),
  LOG_LEVEL: Type.Unsafe<string>({ type: 'string', enum: LOG_LEVELS }),
  ALLOWED_ORIGINS: Type.String({ minLength: 1 }),
  MAX_MESSAGE_LENGTH: positive(1_000_000),
  BODY_LIMIT: positive(64 * 1024 * 1024),
  MAX_CONNECTIONS_PER_USER: positive(100_000),
  HEARTBEAT_INTERVAL_MS: positive(24 * 3600 * 1000),
  MAX_BUFFERED_BYTES: positive(1024 * 1024 * 1024),
  SHUTDOWN_TIMEOUT_MS: positive(10 * 60 * 1000)
}))

type Env = Static<typeof EnvSchema>

/** A start-up configuration error: its message is the one line printed before exiting. */
export class ConfigError extends Error {
  constructor (readonly variable: string, detail: string) {
    super(`invalid configuration: ${variable} ${detail}`)
    this.name = 'ConfigError'
  }
}

interface AjvIssue { instancePath: string, message?: string, params: Record<string, unknown> }

/** Reads and validates the environment. Throws ConfigError naming the first bad variable. */
export function loadConfig (env: NodeJS.ProcessEnv): Config {
  // Only our own variables are validated; blank ones count as unset, as shells often export them empty.
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
    throw new ConfigError(variable, `${describe(issue)} (got ${JSON.stringify(data[variable])})`)
  }
  return {
    port: parsed.PORT ?? defaultConfig.port,
    host: parsed.HOST ?? defaultConfig.host,
    logLevel: parsed.LOG_LEVEL ?? defaultConfig.logLevel,
    allowedOrigins: parseOrigins(parsed.ALLOWED_ORIGINS),
    maxMessageLength: parsed.MAX_MESSAGE_LENGTH ?? defaultConfig.maxMessageLength,
    bodyLimit: parsed.BODY_LIMIT ?? defaultConfig.bodyLimit,
    maxConnectionsPerUser: parsed.MAX_CONNECTIONS_PER_USER ?? defaultConfig.maxConnectionsPerUser,
    heartbeatIntervalMs: parsed.HEARTBEAT_INTERVAL_MS ?? defaultConfig.heartbeatIntervalMs,
    maxBufferedBytes: parsed.MAX_BUFFERED_BYTES ?? defaultConfig.maxBufferedBytes,
    shutdownTimeoutMs: parsed.SHUTDOWN_TIMEOUT_MS ?? defaultConfig.shutdownTimeoutMs
  }
}

function describe (issue: AjvIssue): string {
  if (issue.params.allowedValues !== undefined) return `must be one of ${LOG_LEVELS.join(', ')}`
  return String(issue.message)
}

/** `*` (or unset) means any origin; otherwise a comma-separated list of exact origins such as https://app.example.com. */
function parseOrigins (value: string | undefined): AllowedOrigins {
  if (value === undefined || value === '*') return '*'
  const origins = value.split(',').map(o => o.trim()).filter(o => o !== '')
  for (const origin of origins) {
    if (!isOrigin(origin)) {
      throw new ConfigError('ALLOWED_ORIGINS', `must be * or a comma-separated list of origins like https://app.example.com (got ${JSON.stringify(origin)})`)
    }
  }
  return origins
}

function isOrigin (value: string): boolean {
  try {
    const url = new URL(value)
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === value
  } catch {
    return false
  }
}
