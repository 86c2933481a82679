// The process entry point: read the environment once, build the app, listen, shut down gracefully.
import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.js'
import { ConfigError, loadConfig, type Config } from './config.js'
import { loggerOptions } from './logger.js'

let config: Config
try {
  config = loadConfig(process.env)
} catch (err) {
  // One line naming the variable, no stack trace: this is an operator's typo, not a crash.
  process.stderr.write(`${(err as ConfigError).message}\n`)
  process.exit(1)
}

const app = await buildApp(config, { logger: loggerOptions(config, process.stdout.isTTY) })

closeWithGrace({ delay: config.shutdownTimeoutMs }, async ({ signal, err }) => {
  if (err !== undefined) app.log.error({ err }, 'shutting down after an unexpected error')
  else app.log.info({ signal }, 'shutting down')
  await app.close()
})

await app.listen({ port: config.port, host: config.host })
