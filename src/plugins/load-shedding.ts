// Load shedding (@fastify/under-pressure): while the event loop lags or the heap is too full, POSTs answer
// 503 with Retry-After instead of slowing everyone down; /ready says 503 so the balancer sends work elsewhere.
// GET routes keep answering, so /health never fails a busy node into a restart.
import underPressure from '@fastify/under-pressure'
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { throttled } from '../log-throttle.js'
import { unavailable } from './error-handler.js'

export const RETRY_AFTER_SECONDS = 5

declare module 'fastify' {
  interface FastifyInstance {
    /** True while load shedding is on (decorated by @fastify/under-pressure when a threshold is set). */
    shedding: () => boolean
  }
}

/**
 * How often the event loop and heap are sampled: once per delay threshold (1 s by default). under-pressure reads a
 * window in which the loop never ticked as an infinite delay, so a window shorter than the threshold would turn a
 * stall shorter than the threshold (300 ms against 1000 ms, say) into shedding. With heap shedding alone, once a second.
 */
export function sampleIntervalMs (maxEventLoopDelayMs: number): number {
  return maxEventLoopDelayMs > 0 ? maxEventLoopDelayMs : 1000
}

export interface ShedCause { type: 'eventLoopDelay' | 'heapUsedBytes', value: number, stalled?: true }

/**
 * What the log and the 503 name as the reason for shedding. The same order of checks as under-pressure's: the event
 * loop first, then the heap. A threshold added to the options below (RSS, event-loop utilization) must be added here
 * too, or it is reported as the heap. under-pressure reads a window in which the loop never turned as an infinite
 * delay, which JSON would log as `null`; the lag was then at least the window, so that is the value, marked `stalled`.
 */
export function shedCause (maxEventLoopDelayMs: number, usage: { eventLoopDelay: number, heapUsed: number }): ShedCause {
  if (maxEventLoopDelayMs === 0 || usage.eventLoopDelay <= maxEventLoopDelayMs) return { type: 'heapUsedBytes', value: usage.heapUsed }
  if (Number.isFinite(usage.eventLoopDelay)) return { type: 'eventLoopDelay', value: usage.eventLoopDelay }
  return { type: 'eventLoopDelay', value: sampleIntervalMs(maxEventLoopDelayMs), stalled: true }
}

async function loadSheddingPlugin (app: FastifyInstance, opts: { maxEventLoopDelayMs: number, maxHeapUsedBytes: number }): Promise<void> {
  if (opts.maxEventLoopDelayMs === 0 && opts.maxHeapUsedBytes === 0) {
    app.decorate('shedding', () => false)
    return
  }
  // @fastify/under-pressure samples the event loop and the heap. Its own onRequest hook reads request.routeOptions
  // (a fresh object per read) on every request, GETs included, so it lives in a context of its own with no routes,
  // where that hook never runs, and the cheaper hook below does the shedding.
  let sampler: FastifyInstance | undefined
  await app.register(async (own) => {
    await own.register(underPressure, {
      maxEventLoopDelay: opts.maxEventLoopDelayMs,
      maxHeapUsedBytes: opts.maxHeapUsedBytes,
      sampleInterval: sampleIntervalMs(opts.maxEventLoopDelayMs)
    })
    sampler = own
  })
  const { isUnderPressure, memoryUsage } = sampler as FastifyInstance
  app.decorate('shedding', isUnderPressure)

  const report = throttled(app, (fields: ShedCause) => { app.log.warn(fields, 'load shed') })
  app.addHook('onRequest', (request, reply, done) => {
    if (request.method !== 'POST' || !isUnderPressure()) return done()
    const cause = shedCause(opts.maxEventLoopDelayMs, memoryUsage())
    report('shed', cause)
    done(unavailable(`overloaded (${cause.type}): nothing was sent; retry in ${RETRY_AFTER_SECONDS} s`, RETRY_AFTER_SECONDS))
  })
}

export default fp(loadSheddingPlugin, { name: 'load-shedding', fastify: '5.x' })
