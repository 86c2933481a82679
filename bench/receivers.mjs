// A receiver process: opens N WebSockets (ws or socket.io-client) spread over 127.0.0.x source addresses, counts
// frames and records end-to-end latency (the message text carries its send time) in an HDR histogram.
// The parent drives it over IPC: {cmd:'report'} -> {frames, histogram, lastAt}; {cmd:'reset'}; {cmd:'close'}.
import WebSocket from 'ws'
import { io } from 'socket.io-client'
import hdr from 'hdr-histogram-js'

const { url, kind, count, prefix, offset, topics, sourceBase } = JSON.parse(process.argv[2])
const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 })
let frames = 0
let lastAt = 0
const nowMicros = () => Math.round((performance.timeOrigin + performance.now()) * 1000)

function onFrame (data) {
  const at = nowMicros()
  frames++
  lastAt = at
  const text = typeof data === 'string' ? data : typeof data.message === 'string' ? data.message : JSON.parse(data.toString()).message
  const match = /t=(\d+)/.exec(text)
  if (match !== null) histogram.recordValue(Math.max(1, at - Number(match[1])))
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
    process.send({ type: 'report', frames, lastAt, histogram: hdr.encodeIntoCompressedBase64(histogram) })
  } else if (message.cmd === 'reset') {
    frames = 0
    lastAt = 0
    histogram.reset()
    process.send({ type: 'reset' })
  } else if (message.cmd === 'close') {
    for (const socket of sockets) kind === 'socketio' ? socket.disconnect() : socket.terminate()
    process.exit(0)
  }
})
