// pino options for the process: JSON for machines, pretty for a person at a terminal.
// Secrets never reach a log line: authorization headers are redacted and message text is never logged.
import type { LoggerOptions } from 'pino'
import type { Config } from './config.js'

export function loggerOptions (config: Pick<Config, 'logLevel'>, isTTY: boolean): LoggerOptions {
  return {
    level: config.logLevel,
    redact: ['req.headers.authorization'],
    ...(isTTY ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l' } } } : {})
  }
}
