// CPU per request of pushwire's HTTP path against the ceiling app and the straightforward peer, with the server and a minimal raw-socket client
// in ONE process, so that scheduling between processes does not enter. The receiver is offline unless RECEIVERS=1
// (then 1,000 ws receivers in two processes, users u0…u999), so by default no frame is written.
// Usage: npm run build && node bench/http-path.mjs [ceiling,straightforward,pushwire,pushwire-nometrics,pushwire-base] [ROUNDS=5] [RECEIVER=nobody]
//   BATCH=100 node bench/http-path.mjs pushwire 3 u    POST /send-batch of 100 (receivers u0…u99) instead
import net from 'node:net'
import { resolve as resolvePath } from 'node:path'
import { pathToFileURL } from 'node:url'
import Fastify from 'fastify'
import pino from 'pino'
import { buildApp } from '../dist/src/app.js'
import { defaultConfig } from '../dist/src/config.js'
import { result, sendMessageBody, strictAjv } from './peers/schema.mjs'
import { buildStraightforward } from './peers/straightforward.mjs'
import { startReceivers } from './receiver-pool.mjs'

const logger = { level: 'warn', stream: pino.destination('/dev/null') }
const variants = {
  ceiling: async () => {
    const app = Fastify({ logger: false, ajv: strictAjv })
    app.post('/send-message', { schema: { body: sendMessageBody, response: { 200: result } } }, async () => ({ status: 'sent', id: crypto.randomUUID() }))
    return app
  },
  straightforward: buildStraightforward,
  pushwire: async () => buildApp({ ...defaultConfig }, { logger }),
  'pushwire-nometrics': async () => buildApp({ ...defaultConfig, metrics: false }, { logger })
}
// BASE=DIR adds "pushwire-base": DIR/dist/src/app.js, a build of another commit, to compare a change in one process.
// DIR is taken from the working directory (a bare relative import would be taken from bench/).
if (process.env.BASE) {
  const base = await import(pathToFileURL(resolvePath(process.env.BASE, 'dist/src/app.js')).href)
  variants['pushwire-base'] = async () => base.buildApp({ ...defaultConfig }, { logger })
}
const names = process.argv[2]?.split(',') ?? Object.keys(variants)
const rounds = Number(process.argv[3] ?? 5)
const receiver = process.argv[4] ?? 'nobody'
const batch = Number(process.env.BATCH ?? 0)
const one = i => ({ sender: 'bench', receiver: batch > 0 ? `${receiver}${i}` : receiver, message: `t=${Date.now() * 1000}` })
const path = batch > 0 ? '/send-batch' : '/send-message'
const body = JSON.stringify(batch > 0 ? { messages: Array.from({ length: batch }, (_, i) => one(i)) } : one(0))
const request = Buffer.from(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)

/** n requests over 32 keep-alive connections, one in flight on each; an answer ends with the JSON's closing brace. */
async function drive (port, n) {
  let left = n
  let done = 0
  await new Promise(resolve => {
    for (let c = 0; c < 32; c++) {
      let text = ''
      const socket = net.connect(port, '127.0.0.1', () => { left--; socket.write(request) })
      socket.on('data', chunk => {
        text += chunk.toString('latin1')
        if (!text.endsWith('}')) return
        if (!text.startsWith('HTTP/1.1 200')) throw new Error(text)
        text = ''
        done++
        if (left > 0) { left--; socket.write(request) } else { socket.destroy(); if (done === n) resolve() }
      })
    }
  })
}

const out = {}
const count = batch > 0 ? 1500 : 60_000
for (let round = 0; round < rounds; round++) {
  for (const name of names) {
    const app = await variants[name]()
    await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = app.server.address()
    const receivers = process.env.RECEIVERS ? await startReceivers(`ws://127.0.0.1:${port}`, 'ws', 1000, { processes: 2 }) : null
    await drive(port, count / 3) // warm-up
    const cpu0 = process.cpuUsage()
    await drive(port, count)
    const cpu = process.cpuUsage(cpu0)
    ;(out[name] ??= []).push((cpu.user + cpu.system) / count)
    await receivers?.close()
    await app.close()
  }
}
const median = xs => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] }
for (const [name, us] of Object.entries(out)) console.log(`${name}: CPU µs per request ${us.map(x => x.toFixed(1)).join(' ')}; median ${median(us).toFixed(1)}`)
const [first, ...others] = Object.keys(out)
for (const name of others) console.log(`${name} / ${first}: median per-round ratio ${median(out[name].map((x, i) => x / out[first][i])).toFixed(3)}`)
