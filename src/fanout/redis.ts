// Cluster mode: every message goes through Redis pub/sub, on a channel per user, per topic and one for
// broadcast. A node subscribes to a channel while at least one of its connections needs it, so the count
// PUBLISH returns (nodes that took it) tells sent from offline with no extra round trip.
import { randomBytes } from 'node:crypto'
import { Redis, ReplyError, type RedisOptions } from 'ioredis'
import type { FastifyBaseLogger } from 'fastify'
import type { ConnectionManager } from '../connection-manager.js'
import { OutgoingMessage } from '../message.js'
import { unavailable } from '../plugins/error-handler.js'
import type { Fanout, Lease, Stats } from './fanout.js'
import { CONNECTION_SCRIPT, HEARTBEAT_SCRIPT, KEYS, LEAVE_SCRIPT, SYNC_SCRIPT } from './presence-scripts.js'

const NOT_SENT = 'Redis is unavailable: nothing was sent; retry shortly'
const IN_DOUBT = 'Redis did not answer in time: the message may still be delivered when it recovers, so a retry may deliver it twice'
const LOST_IN_DOUBT = 'the connection to Redis was lost before it answered: the message may have been delivered, so a retry may deliver it twice'
const UNAVAILABLE = 'Redis is unavailable; retry shortly'

/** ioredis's rejection when commandTimeout passes: the command was written, and Redis may still run it. */
const isTimeout = (err: unknown): boolean => (err as Error).message === 'Command timed out'
/**
 * Failures that say the command never ran: ioredis's, for a connection that is not ready (there is no offline
 * queue, so nothing was written), and Redis's own error replies. Any other (a connection lost while a command was
 * under way) leaves the command in doubt: Redis may have run it and its answer been lost.
 */
const neverRan = (err: unknown): boolean => err instanceof ReplyError || (err as Error).message.startsWith('Stream isn\'t writeable')

/**
 * The channels' prefix. Pub/sub channels are shared by every database of a Redis server, so a deployment on another
 * database (REDIS_URL's /N) gets channels of its own, as its keys are; database 0 keeps the prefix it always had.
 */
export function channelPrefix (db: number): string {
  return db === 0 ? 'pw:' : `pw:db${db}:`
}

export interface RedisFanoutOptions {
  url: string
  nodeId: string
  /** A node silent for half of this is reaped; heartbeats go out four times per period. */
  nodeTtlMs: number
  /** Longest wait for any Redis command: a POST answers 503 rather than hang. */
  commandTimeoutMs?: number
  log: FastifyBaseLogger
  /** Told the round trip of each successful PUBLISH, in seconds. */
  onPublished: (seconds: number) => void
  /** Told ioredis's message for each failed command (a flood of them while Redis is away: throttle the log). */
  onCommandFailed: (message: string) => void
  /**
   * Told of a message that reached this node for a user or topic none of its connections holds any more: they
   * closed (a slow consumer's 1013, a client leaving) after Redis counted this node, so its sender was answered sent.
   */
  onDropped: (kind: 'direct' | 'topic', message: OutgoingMessage, target: string) => void
}

interface PresenceCommands {
  pwConnection: (...args: Array<string | number>) => Promise<number>
  pwHeartbeat: (...args: Array<string | number>) => Promise<[number, string[]]>
  pwSync: (...args: Array<string | number>) => Promise<number>
  pwLeave: (node: string) => Promise<number>
}

type Client = Redis & PresenceCommands

/** One channel's local holders, and the SUBSCRIBE that made it live. */
interface Subscription { holders: number, live: Promise<unknown> }

export class RedisFanout implements Fanout {
  readonly clustered = true
  readonly #pub: Client
  readonly #sub: Redis
  readonly #subscriptions = new Map<string, Subscription>()
  readonly #options: RedisFanoutOptions
  readonly #log: FastifyBaseLogger
  /**
   * This process's share of presence in Redis: NODE_ID plus a suffix of its own ('#' never appears in a NODE_ID).
   * Replicas given one NODE_ID would otherwise each rewrite the same ledger and wipe each other's users.
   */
  readonly #ledger: string
  #heartbeat: NodeJS.Timeout | undefined
  readonly #user: string
  readonly #topic: string
  readonly #all: string
  /** Set when a presence write failed: the next heartbeat rewrites this node's whole share. */
  #dirty = false
  #closing = false
  /**
   * Set when a command timed out on a connection that is still open (a Redis that stopped answering), cleared by the
   * next heartbeat that gets an answer. Meanwhile the node is not ready and sends fail at once, so nothing more is
   * written that a resuming Redis would deliver after the sender was told it failed.
   */
  #stalled = false
  /** Set when Redis refused REDIS_URL's database (SELECT): ioredis would carry on in database 0. Fixed by a restart. */
  #wrongDatabase = false
  /** Why Redis refused REDIS_URL while starting (its credentials, its database, its user's permissions): no retry fixes that. */
  #refusal: string | null = null
  /** Until started() answers: refusals are then its to report, in the one line that stops start-up. */
  #starting = true

  constructor (private readonly connections: ConnectionManager, options: RedisFanoutOptions) {
    this.#options = options
    this.#log = options.log
    this.#ledger = `${options.nodeId}#${randomBytes(4).toString('hex')}`
    const common: RedisOptions = {
      // Fail fast instead of queueing while Redis is away; ioredis keeps reconnecting on its own.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      commandTimeout: options.commandTimeoutMs ?? 800,
      retryStrategy: (attempt: number) => Math.min(attempt * 100, 1000),
      connectionName: `pushwire-${options.nodeId}`
    }
    this.#pub = new Redis(options.url, {
      ...common,
      scripts: {
        pwConnection: { lua: CONNECTION_SCRIPT, numberOfKeys: 0 },
        pwHeartbeat: { lua: HEARTBEAT_SCRIPT, numberOfKeys: 0 },
        pwSync: { lua: SYNC_SCRIPT, numberOfKeys: 0 },
        pwLeave: { lua: LEAVE_SCRIPT, numberOfKeys: 0 }
      }
    }) as Client
    // ioredis fills in 0 when REDIS_URL names no database.
    const prefix = channelPrefix(this.#pub.options.db as number)
    this.#user = `${prefix}u:`
    this.#topic = `${prefix}t:`
    this.#all = `${prefix}all`
    // Resubscribing is ours to do (see #onSubscriberReady), from the channels still needed now.
    this.#sub = new Redis(options.url, { ...common, autoResubscribe: false })

    this.#watch(this.#pub, 'publisher')
    this.#watch(this.#sub, 'subscriber')
    this.#pub.on('ready', () => { this.#dirty = true; this.#beat() })
    this.#sub.on('ready', () => { this.#onSubscriberReady() })
    this.#sub.on('messageBuffer', (channel: Buffer, payload: Buffer) => { this.#deliver(channel.toString(), payload) })
    this.#heartbeat = setInterval(() => { this.#beat() }, Math.max(50, Math.floor(options.nodeTtlMs / 4)))
  }

  /** How long this node may go without a heartbeat before the others reap it: half its TTL, two missed beats. */
  get #silentMs (): number { return Math.floor(this.#options.nodeTtlMs / 2) }

  get ready (): boolean {
    return !this.#closing && !this.#stalled && !this.#wrongDatabase && this.#pub.status === 'ready' && this.#sub.status === 'ready'
  }

  /**
   * Once both connections are ready, or Redis refused REDIS_URL (its credentials or its database: no wait can fix
   * that, and the reason is returned), or after `timeoutMs`: the node then starts not ready.
   */
  async started (timeoutMs: number): Promise<'ready' | 'unreachable' | { refused: string }> {
    const deadline = Date.now() + timeoutMs
    while (!this.ready && this.#refusal === null && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 20))
    if (this.ready) await this.#tryPermissions()
    this.#starting = false
    return this.#refusal !== null ? { refused: this.#refusal } : this.ready ? 'ready' : 'unreachable'
  }

  /**
   * Runs once what every send, upgrade and heartbeat will: Redis 7 gives a new ACL user no channels, and a node whose
   * user lacks them said it was ready while every send failed. The user channel of the empty user id, which no user
   * can have, is published to and subscribed to; then a heartbeat (the scripts, and the keys they touch).
   */
  async #tryPermissions (): Promise<void> {
    const nobody = this.#user
    try {
      await this.#pub.publish(nobody, '')
      await this.#sub.subscribe(nobody)
      await this.#sub.unsubscribe(nobody)
      await this.#pub.pwHeartbeat(this.#ledger, this.#silentMs)
    } catch (err) {
      // Redis said no (NOPERM, a command renamed away). Anything else (a timeout, a lost connection) is no setting to
      // fix, and readiness tells it.
      if (err instanceof ReplyError) this.#refusal = `Redis refused a command pushwire needs (${(err as Error).message}); its ACL user needs ~pushwire:* &pw:* +@pubsub +@scripting +@read +@write +time +info`
    }
  }

  send (userId: string, message: OutgoingMessage): Promise<number> { return this.#publish(this.#user + userId, message) }
  publish (topic: string, message: OutgoingMessage): Promise<number> { return this.#publish(this.#topic + topic, message) }

  async sendMany (messages: ReadonlyArray<readonly [string, OutgoingMessage]>): Promise<number[]> {
    const pipeline = this.#pub.pipeline()
    for (const [userId, message] of messages) pipeline.publish(this.#user + userId, message.encode('json'))
    const started = process.hrtime.bigint()
    const replies = await this.#command(() => pipeline.exec(), 'send') as Array<[Error | null, number]>
    // A pipeline resolves even when a command inside it failed (timed out too); any failure fails the whole batch.
    const failed = replies.find(([err]) => err !== null)?.[0]
    if (failed != null) throw this.#failure(failed, 'send')
    this.#options.onPublished(Number(process.hrtime.bigint() - started) / 1e9)
    return replies.map(([, nodes]) => nodes)
  }

  broadcast (message: OutgoingMessage): Promise<number> { return this.#publish(this.#all, message) }

  async presence (userId: string): Promise<number> {
    // Number(null) is 0: a user nobody holds has no field.
    return Number(await this.#command(() => this.#pub.hget(KEYS.presence, userId), 'read'))
  }

  async stats (): Promise<Stats> {
    const [users, connections, topics, nodes] = await this.#command(() => Promise.all([
      this.#pub.hlen(KEYS.presence),
      this.#pub.get(KEYS.connections),
      this.#pub.hlen(KEYS.topics),
      this.#pub.zcard(KEYS.nodes)
    ]), 'read')
    return { users, connections: Number(connections), topics, node: this.#options.nodeId, nodes }
  }

  async acquire (userId: string, topics: readonly string[]): Promise<Lease> {
    const channels = [this.#user + userId, this.#all, ...topics.map(topic => this.#topic + topic)]
    const fresh: string[] = []
    for (const channel of channels) {
      const subscription = this.#subscriptions.get(channel)
      if (subscription === undefined) fresh.push(channel)
      else subscription.holders++
    }
    if (fresh.length > 0) {
      const live = this.#sub.subscribe(...fresh)
      live.catch(() => {}) // awaited below, by every holder
      for (const channel of fresh) this.#subscriptions.set(channel, { holders: 1, live })
    }
    let released = false
    const lease: Lease = {
      release: () => {
        if (released) return
        released = true
        this.#drop(channels)
        this.#countConnection(-1, userId, topics)
      }
    }
    try {
      await this.#command(() => Promise.all([
        ...channels.map(channel => (this.#subscriptions.get(channel) as Subscription).live),
        this.#pub.pwConnection(this.#ledger, 1, userId, ...topics)
      ]), 'read')
    } catch (err) {
      released = true
      this.#drop(channels)
      this.#dirty = true
      throw err
    }
    return lease
  }

  async close (): Promise<void> {
    this.#closing = true
    clearInterval(this.#heartbeat)
    // Leave at once rather than wait to be reaped, so presence drops as soon as this node is gone.
    await this.#pub.pwLeave(this.#ledger).catch(() => {})
    this.#pub.disconnect()
    this.#sub.disconnect()
  }

  async #publish (channel: string, message: OutgoingMessage): Promise<number> {
    const started = process.hrtime.bigint()
    const nodes = await this.#command(() => this.#pub.publish(channel, message.encode('json')), 'send')
    this.#options.onPublished(Number(process.hrtime.bigint() - started) / 1e9)
    return nodes
  }

  /**
   * Runs Redis work, unless Redis has stopped answering; any failure becomes a 503 that says what became of a send.
   * With the connection down nothing was written (no offline queue), but a timed-out command was, and may still run,
   * as may one under way when the connection was lost.
   */
  async #command<T> (work: () => Promise<T>, kind: 'send' | 'read'): Promise<T> {
    if (this.#stalled || this.#wrongDatabase) throw unavailable(kind === 'send' ? NOT_SENT : UNAVAILABLE)
    try {
      return await work()
    } catch (err) {
      throw this.#failure(err, kind)
    }
  }

  /**
   * The 503 for a failed command, which says what became of a send. A timed-out one was written and may still run:
   * the node stalls until Redis answers.
   */
  #failure (err: unknown, kind: 'send' | 'read'): Error {
    this.#options.onCommandFailed((err as Error).message)
    if (isTimeout(err)) this.#stall()
    if (kind === 'read') return unavailable(UNAVAILABLE)
    return unavailable(neverRan(err) ? NOT_SENT : isTimeout(err) ? IN_DOUBT : LOST_IN_DOUBT)
  }

  #stall (): void {
    // Whatever this node wrote meanwhile ran late or not at all, and the other nodes may have reaped it the moment
    // Redis resumed: the heartbeat that gets an answer rewrites its whole share.
    this.#dirty = true
    if (this.#stalled) return
    this.#stalled = true
    this.#log.error('redis stopped answering; /ready answers 503 and sends fail until a heartbeat gets through')
  }

  #drop (channels: readonly string[]): void {
    const idle: string[] = []
    for (const channel of channels) {
      const subscription = this.#subscriptions.get(channel) as Subscription
      if (--subscription.holders === 0) {
        this.#subscriptions.delete(channel)
        idle.push(channel)
      }
    }
    // While Redis is away this fails harmlessly: the next connection subscribes only what is still held.
    if (idle.length > 0 && this.#sub.status === 'ready') this.#sub.unsubscribe(...idle).catch(() => {})
  }

  #countConnection (delta: 1 | -1, userId: string, topics: readonly string[]): void {
    this.#pub.pwConnection(this.#ledger, delta, userId, ...topics).catch(() => { this.#dirty = true })
  }

  #deliver (channel: string, payload: Buffer): void {
    try {
      const message = OutgoingMessage.fromFrame(payload)
      // A broadcast that finds no connection here is no loss: every node with a connection takes it too.
      if (channel.startsWith(this.#user)) {
        const userId = channel.slice(this.#user.length)
        if (this.connections.send(userId, message) === 0) this.#options.onDropped('direct', message, userId)
      } else if (channel.startsWith(this.#topic)) {
        const topic = channel.slice(this.#topic.length)
        if (this.connections.publish(topic, message) === 0) this.#options.onDropped('topic', message, topic)
      } else {
        this.connections.broadcast(message)
      }
    } catch (err) {
      this.#log.error({ err, channel }, 'undeliverable message from redis')
    }
  }

  /** After a (re)connect the subscriber holds nothing: subscribe every channel still needed. */
  #onSubscriberReady (): void {
    const channels = [...this.#subscriptions.keys()]
    if (channels.length === 0) return
    const live = this.#sub.subscribe(...channels)
    live.then(() => this.#log.info({ channels: channels.length }, 'redis channels resubscribed'), () => {})
    for (const channel of channels) (this.#subscriptions.get(channel) as Subscription).live = live
  }

  #beat (): void {
    if (this.#closing || this.#wrongDatabase || this.#pub.status !== 'ready') return
    this.#pub.pwHeartbeat(this.#ledger, this.#silentMs).then(([wasMissing, reaped]) => {
      if (this.#stalled) {
        this.#stalled = false
        this.#log.info('redis answering again')
      }
      if (reaped.length > 0) this.#log.warn({ reaped }, 'reaped silent nodes from presence')
      if (wasMissing === 1 || this.#dirty) this.#sync()
    }, (err: unknown) => { if (isTimeout(err)) this.#stall() })
  }

  /** Rewrites this node's whole share of presence from the channels it holds. */
  #sync (): void {
    this.#dirty = false
    const users: Array<string | number> = []
    const topics: Array<string | number> = []
    for (const [channel, { holders }] of this.#subscriptions) {
      if (channel.startsWith(this.#user)) users.push(channel.slice(this.#user.length), holders)
      else if (channel.startsWith(this.#topic)) topics.push(channel.slice(this.#topic.length), holders)
    }
    this.#pub.pwSync(this.#ledger, this.#silentMs, users.length / 2, ...users, ...topics)
      .then(total => this.#log.info({ connections: total }, 'presence synced to redis'), () => { this.#dirty = true })
  }

  #watch (client: Redis, role: string): void {
    let up = false
    let lastError = ''
    client.on('ready', () => {
      up = true
      lastError = ''
      // ioredis carries on in database 0 after a refused SELECT, and says it is ready.
      if (!this.#wrongDatabase) this.#log.info({ role }, 'redis connected')
    })
    client.on('close', () => {
      if (up && !this.#closing) this.#log.error({ role }, 'redis connection lost; reconnecting')
      up = false
    })
    // ioredis reports every failed reconnect as an error. Each reason is logged once until the next connect, so a
    // wrong password (WRONGPASS, NOAUTH) is told apart from a Redis that is down without a line per retry. The
    // messages name the host and port at most, never the URL's password.
    client.on('error', (err: Error & { command?: { name: string } }) => {
      // Said once, for both connections, in place of the generic line; at start-up, by started() instead.
      if (err.command?.name === 'select') {
        if (this.#starting) this.#refusal ??= `Redis has no database ${String(client.options.db)} (${err.message})`
        else if (!this.#wrongDatabase) this.#log.error({ role, err: err.message }, 'REDIS_URL names a database this Redis does not have; /ready answers 503 until it is fixed and the node restarted')
        this.#wrongDatabase = true
        return
      }
      if (this.#starting && /^(WRONGPASS|NOAUTH)\b/.test(err.message)) {
        this.#refusal ??= err.message.startsWith('NOAUTH') ? 'Redis requires a password, which it does not give (NOAUTH)' : 'Redis refused its user name or password (WRONGPASS)'
        return
      }
      if (err.message === lastError || this.#closing) return
      lastError = err.message
      this.#log.error({ role, err: err.message }, 'redis error')
    })
  }
}
