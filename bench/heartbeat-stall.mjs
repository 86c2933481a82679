// How long a heartbeat sweep holds the event loop: pushwire in this process with 10,000 idle receivers (two
// receiver processes) and a 2 s heartbeat; prints the worst event-loop delay in each 500 ms window for 6 s.
// Usage: npm run build && node bench/heartbeat-stall.mjs [CONNECTIONS] [DIR]   (DIR: a checkout with a build, to compare)
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { resolve } from 'node:path'
import { startReceivers } from './receiver-pool.mjs'

const connections = Number(process.argv[2] ?? 10_000)
const dir = resolve(process.argv[3] ?? '.')
const { buildApp } = await import(`${dir}/dist/src/app.js`)
const { defaultConfig } = await import(`${dir}/dist/src/config.js`)
const app = await buildApp({ ...defaultConfig, heartbeatIntervalMs: 2000, maxConnectionsPerUser: connections })
await app.listen({ port: 0, host: '127.0.0.1' })
const url = `ws://127.0.0.1:${app.server.address().port}`
const receivers = await startReceivers(url, 'ws', connections, { processes: 2 })
const delay = monitorEventLoopDelay({ resolution: 1 })
delay.enable()
const worst = []
for (let i = 0; i < 12; i++) {
  delay.reset()
  await new Promise(resolve => setTimeout(resolve, 500))
  worst.push((delay.max / 1e6).toFixed(1))
}
console.log(`${app.connections.connectionCount} connections; worst event-loop delay per 500 ms window (ms): ${worst.join(' ')}`)
await receivers.close()
await app.close()
