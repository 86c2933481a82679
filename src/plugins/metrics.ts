// Prometheus metrics through prom-client, on a registry of this app's own (so several apps can share a process).
// Hot-path counters are plain integers on the ConnectionManager, read only when /metrics is scraped.
import Fastify, { type FastifyInstance, type onResponseHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type Metric } from 'prom-client'
import { CLOSE_CODES } from '../close-codes.js'
import { Drain } from '../drain.js'
import { listenerOptions, refusedHeaders, routeUnmetExpectations, type ListenerSettings } from '../listener.js'
import errorHandler from './error-handler.js'
import { publisherKey } from './publisher-auth.js'

export type MessageKind = 'direct' | 'topic' | 'broadcast'

/** What the rest of the app reports; every method is a no-op when metrics are off. */
export interface Metrics {
  message: (kind: MessageKind, status: 'sent' | 'offline', startedSecondsAgo: number) => void
  wsOpened: () => void
  wsClosed: (code: number) => void
  heartbeatTerminated: () => void
  slowConsumerClosed: () => void
  redisPublished: (seconds: number) => void
  /** Cluster mode: a message that reached this node after its receiver or topic's last connection here closed. */
  droppedOnArrival: (kind: 'direct' | 'topic') => void
  /** A request no route took (404, or 405 for a known path), by method and status: never by path. */
  unmatched: (method: string, status: number, seconds: number) => void
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics
  }
}

const noop = (): void => {}
export const NO_METRICS: Metrics = { message: noop, wsOpened: noop, wsClosed: noop, heartbeatTerminated: noop, slowConsumerClosed: noop, redisPublished: noop, droppedOnArrival: noop, unmatched: noop }

export interface MetricsOptions {
  enabled: boolean
  /** Serve /metrics on this port instead of the main one. */
  port: number | null
  host: string
  /** That port's listener takes the main one's timeouts and answers. */
  listener: ListenerSettings
}

const SECONDS_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]

/** One label set's observations: a count per bucket (the last one is +Inf), their sum and their number. */
class Buckets {
  readonly counts = new Float64Array(SECONDS_BUCKETS.length + 1)
  sum = 0
  count = 0

  constructor (readonly labels: Record<string, string>) {}

  reset (): void {
    this.counts.fill(0)
    this.sum = 0
    this.count = 0
  }

  observe (seconds: number): void {
    let i = 0
    while (i < SECONDS_BUCKETS.length && seconds > (SECONDS_BUCKETS[i] as number)) i++
    this.counts[i] = (this.counts[i] as number) + 1
    this.sum += seconds
    this.count++
  }
}

/**
 * A histogram for the hot path. prom-client's observe() validates and hashes the labels and builds a closure and
 * objects on every call, which the send path paid two or three times per request; here a label set is found by one
 * string key, and an observation is a bucket search and three additions. prom-client's registry reads it at scrape
 * time through get(), which returns what prom-client's own histograms return, so /metrics is the same text.
 */
export class FastHistogram {
  readonly type = 'histogram'
  readonly aggregator = 'sum'
  readonly #sets = new Map<string, Buckets>()

  constructor (readonly name: string, readonly help: string, registry: Registry) {
    registry.registerMetric(this as unknown as Metric)
  }

  /** The label set for this key, created with these labels on first use. */
  labelled (key: string, labels: () => Record<string, string>): Buckets {
    let set = this.#sets.get(key)
    if (set === undefined) this.#sets.set(key, (set = new Buckets(labels())))
    return set
  }

  async get () {
    const bucket = `${this.name}_bucket`
    const values = [...this.#sets.values()].flatMap(({ labels, counts, sum, count }) => {
      let cumulative = 0
      return [
        ...SECONDS_BUCKETS.map((le, i) => ({ labels: { ...labels, le }, value: (cumulative += counts[i] as number), metricName: bucket })),
        { labels: { ...labels, le: '+Inf' }, value: count, metricName: bucket },
        { labels, value: sum, metricName: `${this.name}_sum` },
        { labels, value: count, metricName: `${this.name}_count` }
      ]
    })
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator }
  }

  /** Zeroes every label set in place: the send path holds its label sets, so they must stay the ones exported. */
  reset (): void {
    for (const set of this.#sets.values()) set.reset()
  }
}

async function metricsPlugin (app: FastifyInstance, opts: MetricsOptions): Promise<void> {
  if (!opts.enabled) {
    app.decorate('metrics', NO_METRICS)
    return
  }
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const connections = () => app.connections

  const gauge = (name: string, help: string, read: () => number) => new Gauge({
    name, help, registers: [registry], collect () { this.set(read()) }
  })
  gauge('pushwire_connections', 'Open WebSocket connections on this node', () => connections().connectionCount)
  gauge('pushwire_users', 'Users with at least one open connection on this node', () => connections().userCount)
  gauge('pushwire_topics', 'Topics held by at least one open connection on this node', () => connections().topicCount)
  /** A counter whose value lives elsewhere as a plain number, copied in at scrape time. */
  const mirrored = (name: string, help: string, read: () => number) => new Counter({
    name, help, registers: [registry], collect () { this.reset(); this.inc(read()) }
  })
  mirrored('pushwire_frames_written_total', 'Message frames written to sockets', () => connections().framesWritten)
  let opens = 0
  mirrored('pushwire_ws_opens_total', 'WebSocket connections opened (upgrades answered 101)', () => opens)
  let heartbeatTerminations = 0
  let slowConsumerCloses = 0
  mirrored('pushwire_heartbeat_terminations_total', 'Connections terminated for missing a heartbeat', () => heartbeatTerminations)
  mirrored('pushwire_slow_consumer_closes_total', 'Connections closed with 1013 for falling behind', () => slowConsumerCloses)

  // Messages by kind and status: plain numbers on the send path (no label string built per message), copied into
  // the counter at scrape time.
  const counts: Record<MessageKind, Record<'sent' | 'offline', number>> = {
    direct: { sent: 0, offline: 0 }, topic: { sent: 0, offline: 0 }, broadcast: { sent: 0, offline: 0 }
  }
  new Counter({ // eslint-disable-line no-new
    name: 'pushwire_messages_total',
    help: 'Messages accepted by the send routes',
    labelNames: ['kind', 'status'],
    registers: [registry],
    collect () {
      this.reset()
      for (const [kind, byStatus] of Object.entries(counts)) {
        for (const [status, n] of Object.entries(byStatus)) this.inc({ kind, status }, n)
      }
    }
  })
  const closes = new Counter({ name: 'pushwire_ws_closes_total', help: 'WebSocket closes by close code', labelNames: ['code'], registers: [registry] })
  // A client chooses its own close code: a label per value would let any client add thousands of series.
  const closeLabels = new Map([1000, 1005, ...CLOSE_CODES.map(entry => entry.code)].map(code => [code, String(code)]))
  const sendDuration = new FastHistogram('pushwire_send_duration_seconds', 'From a send request\'s arrival to its last frame written (cluster: to Redis confirming the publish)', registry).labelled('', () => ({}))
  const httpDuration = new FastHistogram('pushwire_http_request_duration_seconds', 'HTTP request duration by route', registry)

  let redisPublish: Histogram | undefined
  let dropped: Counter | undefined
  if (app.fanout.clustered) {
    gauge('pushwire_redis_up', '1 while both Redis connections are ready and Redis answers', () => app.fanout.ready ? 1 : 0)
    redisPublish = new Histogram({ name: 'pushwire_redis_publish_duration_seconds', help: 'Round trip of one PUBLISH to Redis', buckets: SECONDS_BUCKETS, registers: [registry] })
    dropped = new Counter({ name: 'pushwire_messages_dropped_total', help: 'Messages answered sent that reached this node after the receiver\'s (or topic\'s) last connection here closed', labelNames: ['kind'], registers: [registry] })
    for (const kind of ['direct', 'topic']) dropped.inc({ kind }, 0)
  }

  app.decorate<Metrics>('metrics', {
    message: (kind, status, seconds) => {
      counts[kind][status]++
      sendDuration.observe(seconds)
    },
    wsOpened: () => { opens++ },
    wsClosed: code => closes.inc({ code: closeLabels.get(code) ?? 'other' }),
    heartbeatTerminated: () => { heartbeatTerminations++ },
    slowConsumerClosed: () => { slowConsumerCloses++ },
    redisPublished: seconds => redisPublish?.observe(seconds),
    droppedOnArrival: kind => dropped?.inc({ kind }),
    // One label set per method (Node's parser knows a fixed list) and status: a scan of random paths adds none.
    unmatched: (method, status, seconds) => {
      httpDuration.labelled(`${method} unmatched ${status}`, () => ({ method, route: 'unmatched', status_code: String(status) })).observe(seconds)
    }
  })

  // Each route gets its own onResponse hook that knows its url, so no request reads request.routeOptions (a fresh
  // object per read), and keeps its label sets by method and status code, so no request builds a label string.
  // 404s have no route, so clients cannot mint label values.
  app.addHook('onRoute', (route) => {
    const { url } = route
    const byMethod = new Map<string, Map<number, Buckets>>()
    const labelSet = (method: string, status: number): Buckets => {
      let byStatus = byMethod.get(method)
      if (byStatus === undefined) byMethod.set(method, (byStatus = new Map()))
      let set = byStatus.get(status)
      if (set === undefined) byStatus.set(status, (set = httpDuration.labelled(`${method} ${url} ${status}`, () => ({ method, route: url, status_code: String(status) }))))
      return set
    }
    const observe: onResponseHookHandler = (request, reply, done) => {
      labelSet(request.method, reply.statusCode).observe(reply.elapsedTime / 1000)
      done()
    }
    route.onResponse = [route.onResponse ?? [], observe].flat()
  })

  const scrape = async () => await registry.metrics()
  if (opts.port === null) {
    const keys = app.publisherKeys
    app.get('/metrics', { schema: { hide: true } }, async (request, reply) => {
      // With auth on, the main port's /metrics needs an API key; METRICS_PORT is for a private network instead.
      if (keys.enabled) publisherKey(keys, request, reply, 'an API key is required for /metrics (or serve it on METRICS_PORT)')
      reply.type(registry.contentType)
      return await scrape()
    })
    return
  }

  // Its own small app with the main listener's options, error answers and refusal log, and its own drain: it closes
  // after the main listener, once nothing more can be under way.
  const drain = new Drain()
  const side = Fastify({ loggerInstance: app.log.child({ listener: 'metrics' }), ...listenerOptions(opts.listener, drain) })
  drain.track(side.server)
  routeUnmetExpectations(side.server)
  // The scraper's own requests are not this node's traffic: the error handler's count of unmatched ones goes nowhere.
  side.decorate('metrics', NO_METRICS)
  side.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id)
    done(refusedHeaders(request))
  })
  await side.register(errorHandler)
  side.get('/metrics', async (_request, reply) => reply.type(registry.contentType).send(await scrape()))
  side.addHook('preClose', (done) => {
    drain.begin()
    drain.closeUnanswered()
    done()
  })
  const port = opts.port
  // Bound when the app is ready, not in onListen: Fastify only logs an onListen hook's error, and a port already in
  // use left the node serving with no metrics at all. This way start-up fails and says so.
  app.addHook('onReady', async () => {
    await side.listen({ port, host: opts.host, listenTextResolver: address => `metrics listening at ${address}` })
  })
  app.addHook('onClose', async () => { await side.close() })
}

export default fp(metricsPlugin, { name: 'metrics', fastify: '5.x', dependencies: ['connections', 'auth'] })
