// A receiver process: opens N WebSockets (ws or socket.io-client) spread over 127.0.0.x source addresses, counts
// frames and records end-to-end latency (the message text carries its send time) in an HDR histogram.
// The parent drives it over IPC: {cmd:'report'} -> {frames, histogram, lastAt}; {cmd:'reset'}; {cmd:'close'}.
import { writeFileSync } from 'node:fs'
import WebSocket from 'ws'
import { io } from 'socket.io-client'
import hdr from 'hdr-histogram-js'

const { url, kind, count, prefix, offset, topics, sourceBase } = JSON.parse(process.argv[2])
const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 })
let frames = 0
let lastAt = 0
const nowMicros = () => Math.round((performance.timeOrigin + performance.now()) * 1000)
// FRAME_LOG_DIR=DIR: every frame's send time and latency since the last reset, written to DIR/frames-PORT-PID.json
// at each report (bench/tail-vs-gc.mjs). Off unless set: it costs the receivers an array push per frame.
const frameLogDir = process.env.FRAME_LOG_DIR
const frameLog = []

const MARK = Buffer.from('t=')

/**
 * The send time a message text carries ("t=<µs since the epoch>"), or -1. A ws frame arrives as the raw bytes of
 * its JSON, and the digits are read straight from them: JSON.parse per frame was the largest single cost of a
 * receiver process (13 % of its samples at 38,000 frames/s), CPU taken from the server under test on these 2 cores.
 */
function sentAtMicros (data) {
  if (!Buffer.isBuffer(data)) {
    const match = /t=(\d+)/.exec(typeof data === 'string' ? data : data.message)
    return match === null ? -1 : Number(match[1])
  }
  const start = data.indexOf(MARK)
  if (start === -1) return -1
  let micros = 0
  for (let i = start + 2; i < data.length && data[i] >= 0x30 && data[i] <= 0x39; i++) micros = micros * 10 + data[i] - 0x30
  return micros
}

function onFrame (data) {
  const at = nowMicros()
  frames++
  lastAt = at
  const sentAt = sentAtMicros(data)
  if (sentAt >= 0) histogram.recordValue(Math.max(1, at - sentAt))
  if (frameLogDir !== undefined && sentAt >= 0) frameLog.push([sentAt, at - sentAt])
}

const sockets = []

/** Opens one connection, retrying a refused or reset one (a listen backlog overflowing under a connect storm). */
function open (i, attempt = 0) {
  const userId = `${prefix}${offset + i}`
  const localAddress = `127.0.0.${2 + ((sourceBase + i) % 250)}`
  return new Promise((resolve, reject) => {
    const retry = err => {
      if (attempt >= 5) reject(err)
      else setTimeout(() => open(i, attempt + 1).then(resolve, reject), 100 * (attempt + 1))
    }
    if (kind === 'socketio') {
      const socket = io(url, { transports: ['websocket'], query: { userId, topics: topics ?? '' }, localAddress, reconnection: false })
      socket.on('message', onFrame)
      socket.once('connect', () => { sockets.push(socket); resolve() })
      socket.once('connect_error', err => { socket.close(); retry(err) })
    } else {
      const socket = new WebSocket(`${url}/ws/${userId}${topics ? `?topics=${topics}` : ''}`, { localAddress, perMessageDeflate: false })
      socket.on('message', onFrame)
      socket.once('open', () => { sockets.push(socket); resolve() })
      socket.once('error', err => { if (socket.readyState !== WebSocket.OPEN) retry(err) })
    }
  })
}

// In steps of 100, so that 10,000 connections do not overflow the server's listen backlog.
try {
  for (let i = 0; i < count; i += 100) {
    await Promise.all(Array.from({ length: Math.min(100, count - i) }, (_, j) => open(i + j)))
  }
  process.send({ type: 'ready' })
} catch (err) {
  process.send({ type: 'error', message: err.message })
}

process.on('message', message => {
  if (message.cmd === 'report') {
    if (frameLogDir !== undefined) writeFileSync(`${frameLogDir}/frames-${new URL(url).port}-${process.pid}.json`, JSON.stringify(frameLog))
    process.send({ type: 'report', frames, lastAt, histogram: hdr.encodeIntoCompressedBase64(histogram) })
  } else if (message.cmd === 'reset') {
    frames = 0
    lastAt = 0
    histogram.reset()
    frameLog.length = 0
    process.send({ type: 'reset' })
  } else if (message.cmd === 'close') {
    for (const socket of sockets) kind === 'socketio' ? socket.disconnect() : socket.terminate()
    process.exit(0)
  }
})
