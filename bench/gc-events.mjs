// Preloaded into a target (NODE_OPTIONS=--import ./bench/gc-events.mjs) with FRAME_LOG_DIR set: writes every garbage
// collection's start (µs since the epoch), duration (µs) and kind to FRAME_LOG_DIR/gc-PORT.json once a second, with
// the script it ran, for bench/tail-vs-gc.mjs to set against the frames' latencies.
import { writeFileSync } from 'node:fs'
import { PerformanceObserver, performance } from 'node:perf_hooks'

const events = []
new PerformanceObserver(list => {
  for (const entry of list.getEntries()) {
    events.push([Math.round((performance.timeOrigin + entry.startTime) * 1000), Math.round(entry.duration * 1000), entry.detail?.kind])
  }
}).observe({ entryTypes: ['gc'] })
setInterval(() => writeFileSync(`${process.env.FRAME_LOG_DIR}/gc-${process.env.PORT}.json`, JSON.stringify({ script: process.argv[1], events })), 1000).unref()
