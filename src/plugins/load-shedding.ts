// Load shedding (@fastify/under-pressure): while the event loop lags or the heap is too full, POSTs answer
// 503 with Retry-After instead of slowing everyone down; /ready says 503 so the balancer sends work elsewhere.
// GET routes keep answering, so /health never fails a busy node into a restart.
import underPressure from '@fastify/under-pressure'
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { httpError } from './error-handler.js'

export const RETRY_AFTER_SECONDS = 5

declare module 'fastify' {
  interface FastifyInstance {
    /** True while load shedding is on (decorated by @fastify/under-pressure when a threshold is set). */
    shedding: () => boolean
  }
}

async function loadSheddingPlugin (app: FastifyInstance, opts: { maxEventLoopDelayMs: number, maxHeapUsedBytes: number }): Promise<void> {
  if (opts.maxEventLoopDelayMs === 0 && opts.maxHeapUsedBytes === 0) {
    app.decorate('shedding', () => false)
    return
  }
  await app.register(underPressure, {
    maxEventLoopDelay: opts.maxEventLoopDelayMs,
    maxHeapUsedBytes: opts.maxHeapUsedBytes,
    retryAfter: RETRY_AFTER_SECONDS,
    // Samples four times a second, so shedding starts and stops within a quarter second.
    sampleInterval: 250,
    pressureHandler: async (request, reply, type, value) => {
      if (request.method !== 'POST') return
      reply.header('retry-after', RETRY_AFTER_SECONDS)
      request.log.warn({ type, value }, 'load shed')
      throw httpError(503, `overloaded (${type}): nothing was sent; retry in ${RETRY_AFTER_SECONDS} s`)
    }
  })
  app.decorate('shedding', () => app.isUnderPressure())
}

export default fp(loadSheddingPlugin, { name: 'load-shedding', fastify: '5.x' })
