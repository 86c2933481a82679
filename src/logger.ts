// pino options for the process: JSON for machines, pretty for a person at a terminal.
// Secrets never reach a log line: authorization headers are redacted and message text is never logged.
import { hostname } from 'node:os'
import type { LoggerOptions } from 'pino'
import type { Config } from './config.js'

export function loggerOptions (config: Pick<Config, 'logLevel' | 'redisUrl' | 'nodeId'>, isTTY: boolean): LoggerOptions {
  return {
    level: config.logLevel,
    // In a cluster every line says which node wrote it.
    ...(config.redisUrl === null ? {} : { base: { pid: process.pid, hostname: hostname(), node: config.nodeId } }),
    redact: ['req.headers.authorization'],
    ...(isTTY ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l' } } } : {})
  }
}
