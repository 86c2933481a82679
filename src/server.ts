// The process entry point: read the environment once, build the app, listen, shut down gracefully.
import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.js'
import { ConfigError, loadConfig, type Config } from './config.js'
import { loggerOptions, prettyLogs } from './logger.js'

let config: Config
try {
  config = loadConfig(process.env)
} catch (err) {
  // One line naming the variable, no stack trace: this is an operator's typo, not a crash.
  process.stderr.write(`${(err as ConfigError).message}\n`)
  process.exit(1)
}

// A stop asked for while the app is being built (cluster mode waits up to 3 s for Redis) is noted, then carried out
// below like any other once the app exists: it would otherwise kill the process without a line.
let stopAsked: NodeJS.Signals | undefined
const noteStop = (signal: NodeJS.Signals): void => { stopAsked = signal }
process.once('SIGTERM', noteStop).once('SIGINT', noteStop)
const app = await buildApp(config, { logger: loggerOptions(config, prettyLogs(process.stdout.isTTY, process.env.NODE_ENV)) }).catch(failToStart)
process.off('SIGTERM', noteStop).off('SIGINT', noteStop)

closeWithGrace({
  delay: config.shutdownTimeoutMs,
  // Its own lines are plain text on stderr; these are JSON lines like every other.
  logger: app.log,
  // WebSockets are cut off after their close grace, so what holds a shutdown this long is HTTP: a request under way.
  onTimeout: () => { app.log.error({ ms: config.shutdownTimeoutMs, httpConnections: app.openHttpConnections() }, 'killed by timeout: the shutdown took longer than SHUTDOWN_TIMEOUT_MS') },
  onSecondSignal: signal => { app.log.error({ signal }, 'second signal: exiting at once, without finishing the shutdown') }
}, async ({ signal, err }) => {
  const started = performance.now()
  if (err !== undefined) app.log.error({ err }, 'shutting down after an unexpected error')
  // No delay for a node that never listened (stopped while starting): no balancer was sending it anything.
  else if (config.shutdownDelayMs === 0 || !app.server.listening) app.log.info({ signal }, 'shutting down')
  else {
    // Load balancers take a moment to see /ready fail; until they do, the work they send here is still served.
    app.log.info({ signal, delayMs: config.shutdownDelayMs }, 'shutting down')
    app.leaveRotation()
    await new Promise(resolve => setTimeout(resolve, config.shutdownDelayMs))
  }
  await app.close()
  // The last line of a clean stop, so a log shows it finished rather than being cut off.
  app.log.info({ ms: Math.round(performance.now() - started) }, 'shutdown complete')
})

if (stopAsked === undefined) await app.listen({ port: config.port, host: config.host }).catch(failToStart)
else process.kill(process.pid, stopAsked)

/**
 * A port or host that cannot be listened on is a setting to fix, said in one line like a bad variable, naming it
 * where the error says which.
 */
function failToStart (err: NodeJS.ErrnoException & { port?: number, hostname?: string }): never {
  // A failed name lookup carries the name but no port.
  const metricsListener = config.metricsPort !== null && (err.port === config.metricsPort || (err.hostname !== undefined && err.hostname === config.metricsHost))
  const port = metricsListener ? 'METRICS_PORT' : 'PORT'
  const [hostVariable, host] = metricsListener && config.metricsHost !== null ? ['METRICS_HOST', config.metricsHost] : ['HOST', config.host]
  const reasons: Record<string, string> = {
    EADDRINUSE: `${port} ${String(err.port)} is already in use on ${host}`,
    EACCES: `${port} ${String(err.port)} needs more privileges (ports below 1024 do)`,
    EADDRNOTAVAIL: `${hostVariable} ${JSON.stringify(host)} is not an address of this machine`,
    ENOTFOUND: `${hostVariable} ${JSON.stringify(host)} does not resolve to an address`,
    EAI_AGAIN: `${hostVariable} ${JSON.stringify(host)} does not resolve to an address`
  }
  process.stderr.write(`cannot start: ${reasons[String(err.code)] ?? err.message}\n`)
  process.exit(1)
}
