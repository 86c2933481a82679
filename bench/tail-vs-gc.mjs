// How much of a fixed-rate round's latency tail garbage collection explains, per target. After
//   FRAME_LOG_DIR=DIR node bench/run.mjs --only=rate --rounds=1 \
//     '--targets=pushwire:NODE_OPTIONS=--import ./bench/gc-events.mjs,straightforward:NODE_OPTIONS=--import ./bench/gc-events.mjs'
// run `node bench/tail-vs-gc.mjs DIR`: for each target (by port), the frames at or above the p99 whose flight
// overlapped a collection in the server, and the p99 without any frame that did.
import { readdirSync, readFileSync } from 'node:fs'

const dir = process.argv[2]
const read = file => JSON.parse(readFileSync(`${dir}/${file}`, 'utf8'))
const percentile = (sorted, p) => sorted[Math.floor(p * (sorted.length - 1))]

for (const gcFile of readdirSync(dir).filter(file => /^gc-\d+\.json$/.test(file))) {
  const port = gcFile.slice(3, -5)
  const frames = readdirSync(dir).filter(file => file.startsWith(`frames-${port}-`)).flatMap(read)
  if (frames.length === 0) continue
  const first = Math.min(...frames.map(([sentAt]) => sentAt))
  const last = Math.max(...frames.map(([sentAt, latency]) => sentAt + latency))
  const { script, events } = read(gcFile)
  const collections = events.filter(([start, duration]) => start + duration >= first && start <= last)
  const overlaps = ([sentAt, latency]) => collections.some(([start, duration]) => start <= sentAt + latency && start + duration >= sentAt)
  const latencies = frames.map(([, latency]) => latency).sort((a, b) => a - b)
  const p99 = percentile(latencies, 0.99)
  const tail = frames.filter(([, latency]) => latency >= p99)
  const clean = frames.filter(frame => !overlaps(frame)).map(([, latency]) => latency).sort((a, b) => a - b)
  console.log(JSON.stringify({
    target: script.replace(/^.*\/(bench\/|dist\/)/, '$1'),
    port,
    frames: frames.length,
    p99Micros: p99,
    collections: collections.length,
    collectionMs: collections.reduce((sum, [, duration]) => sum + duration, 0) / 1000,
    tail: tail.length,
    tailOverlappingCollection: tail.filter(overlaps).length,
    p99WithoutThoseMicros: percentile(clean, 0.99)
  }))
}
