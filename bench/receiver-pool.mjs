// Receiver processes (bench/receivers.mjs) holding `total` connections of users u0…, spread over processes and
// 127.0.0.x source addresses; the parent asks them for counts and latency histograms over IPC.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import hdr from 'hdr-histogram-js'

const script = fileURLToPath(new URL('receivers.mjs', import.meta.url))

/** url: ws://… (or http://… for socket.io); kind: 'ws' or 'socketio'. Resolves once every connection is open. */
export async function startReceivers (url, kind, total, { processes = Math.max(1, Math.ceil(total / 5000)), topics } = {}) {
  const per = Math.ceil(total / processes)
  const children = []
  for (let p = 0; p < processes; p++) {
    const config = { url, kind, count: Math.min(per, total - p * per), prefix: 'u', offset: p * per, topics, sourceBase: 2 + p * 50 }
    // RECEIVER_PROFILE_DIR=DIR: each receiver process writes a V8 CPU profile there when it exits.
    const profile = process.env.RECEIVER_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.RECEIVER_PROFILE_DIR}`] : []
    children.push(spawn(process.execPath, [...profile, script, JSON.stringify(config)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }))
  }
  await Promise.all(children.map(child => new Promise((resolve, reject) => {
    child.on('message', m => { if (m.type === 'ready') resolve(); else if (m.type === 'error') reject(new Error(m.message)) })
    child.on('exit', code => reject(new Error(`receiver exited ${code}`)))
  })))
  const ask = (cmd, reply) => Promise.all(children.map(child => new Promise(resolve => {
    const onMessage = m => { if (m.type === reply) { child.off('message', onMessage); resolve(m) } }
    child.on('message', onMessage)
    child.send({ cmd })
  })))
  return {
    pids: children.map(child => child.pid),
    async report () {
      const reports = await ask('report', 'report')
      const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 })
      for (const r of reports) histogram.add(hdr.decodeFromCompressedBase64(r.histogram))
      return { frames: reports.reduce((n, r) => n + r.frames, 0), lastAt: Math.max(...reports.map(r => r.lastAt)), histogram }
    },
    reset: () => ask('reset', 'reset'),
    async close () {
      for (const child of children) { child.removeAllListeners('exit'); child.send({ cmd: 'close' }) }
      await Promise.all(children.map(c => once(c, 'exit')))
    }
  }
}
