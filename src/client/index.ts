// pushwire/client: a reconnecting WebSocket client for pushwire, the same code in browsers (the global WebSocket)
// and in Node 20 (the ws package, loaded only when there is no global WebSocket).
import { Emitter } from './emitter.js'
import { afterClose, afterRefusal, backoffDelay, MAX_TIMER_MS, refreshDelay, tokenExpiry, type Action } from './policy.js'
import { RecentIds } from './recent-ids.js'
import { isTopic, isUserId, MAX_TOPICS_PER_CONNECTION, TOPIC_RULE, USER_ID_RULE } from './names.js'

export { afterClose, afterRefusal, backoffDelay, refreshDelay, tokenExpiry } from './policy.js'

interface FrameBase { type: 'message', id: string, sender: string, message: string, sentAt: string }
export interface DirectFrame extends FrameBase { receiver: string }
export interface TopicFrame extends FrameBase { topic: string }
export interface BroadcastFrame extends FrameBase { broadcast: true }
/** A pushed message with ?format=json: exactly one of receiver, topic or broadcast says how it was addressed. */
export type MessageFrame = DirectFrame | TopicFrame | BroadcastFrame

export type State = 'connecting' | 'open' | 'reconnecting' | 'closed'

export interface ConnectOptions<F extends 'json' | 'text' = 'json' | 'text'> {
  /** The service's base URL: http(s):// or ws(s)://, e.g. "http://localhost:3000" or, in a page, location.origin. */
  url: string
  userId: string
  topics?: string[]
  /** A receiver token (auth mode); sent as the "bearer.<token>" subprotocol, never in the URL. */
  token?: string
  /**
   * Returns a fresh token: called before the first connect when no token is given, after 4001 or a 401, and ahead of
   * a token's expiry, to open its successor before the server closes the connection (see README).
   */
  getToken?: () => string | Promise<string>
  /** json (default): message events carry a MessageFrame; text: the plain line "[sender]: message". */
  format?: F
  /** First reconnect delay ceiling (default 500 ms); it doubles per failed attempt up to maxDelayMs (default 10 s). */
  initialDelayMs?: number
  maxDelayMs?: number
  /** A connection open this long counts as healthy and resets the backoff (default 5 s). */
  stableAfterMs?: number
  /** How long the GET that asks why an upgrade failed may take before the client just retries (default 5 s). */
  probeTimeoutMs?: number
  /**
   * How long the opening handshake may take before the attempt counts as failed and is retried (default 10 s). A
   * healthy handshake is a round trip or two; without a limit, a load balancer that accepts TCP and never answers
   * would hold the client in 'connecting' for 240 s in Chromium and for good in Node's ws.
   */
  connectTimeoutMs?: number
  /**
   * Node (the ws package) only: a connection that has brought no ping and no message for this long is taken for dead
   * and replaced. Only needed with a server older than heartbeat frames, which sends none (a newer one's frames are
   * watched anyway, in browsers too). Set it above twice the server's HEARTBEAT_INTERVAL_MS (e.g. 65 s for the default
   * 30 s): such a server does not tell its interval. Off by default.
   */
  heartbeatTimeoutMs?: number
  /** How many message ids are remembered to drop repeats (default 1000). */
  dedupeWindow?: number
  /** A WebSocket implementation; by default the global one, else the ws package. */
  WebSocket?: WebSocketConstructor
}

export interface ClientEvents<M> {
  /** A connection is open; attempt counts the reconnects since the last healthy connection. */
  open: { attempt: number }
  message: M
  /** A connection closed; willReconnect says whether the client goes on. */
  close: { code: number, reason: string, willReconnect: boolean }
  /** The next attempt starts in delayMs. */
  reconnecting: { attempt: number, delayMs: number, code: number }
  /** Something went wrong; when fatal, the client has stopped for good. */
  error: PushwireError
}

export class PushwireError extends Error {
  constructor (message: string, readonly fatal: boolean, readonly code?: number) {
    super(message)
    this.name = 'PushwireError'
  }
}

/** The subset of the WebSocket API shared by browsers and ws. */
export interface WebSocketLike {
  readonly readyState: number
  /** The subprotocol the server selected. */
  readonly protocol: string
  close: (code?: number, reason?: string) => void
  addEventListener: ((type: 'open' | 'error', listener: () => void) => void) &
  ((type: 'message', listener: (event: { data: unknown }) => void) => void) &
  ((type: 'close', listener: (event: { code: number, reason: string }) => void) => void)
}
export type WebSocketConstructor = new (url: string, protocols: string[]) => WebSocketLike

/** What the ws package adds to the standard API: it shows the server's pings, and can drop a dead connection at once. */
interface NodeWebSocket extends WebSocketLike {
  on: (event: 'ping', listener: () => void) => void
  terminate: () => void
}

const SUBPROTOCOL = 'pushwire'
/** Offered first: a server that sends heartbeat frames selects it, an older one selects SUBPROTOCOL. */
const HEARTBEAT_SUBPROTOCOL = 'pushwire.heartbeat'
/** Allowed on top of two heartbeat intervals (a sweep's own time, a slow network) before silence means dead. */
const HEARTBEAT_GRACE_MS = 5000
/** How long close() lets a closing handshake take before ws's socket is cut off (Node). */
const CLOSE_GRACE_MS = 2000
/**
 * How long a connection replaced ahead of its token's expiry keeps delivering next to its successor: frames the server
 * wrote to it just before the successor was registered are still on their way. Repeats are dropped by id.
 */
const HANDOVER_MS = 1000

/** Opens a connection at once; it reconnects on its own until close() or a fatal error. */
export function connect (options: ConnectOptions<'text'> & { format: 'text' }): PushwireClient<string>
export function connect (options: ConnectOptions<'json'>): PushwireClient<MessageFrame>
/** A format known only at run time: message events carry either shape. */
export function connect (options: ConnectOptions): PushwireClient<MessageFrame | string>
export function connect (options: ConnectOptions): PushwireClient<MessageFrame | string> {
  return new PushwireClient(options)
}

export class PushwireClient<M = MessageFrame> extends Emitter<ClientEvents<M>> {
  readonly url: string
  #state: State = 'connecting'
  /** Lets go of the current socket for close(): its later events are ignored. */
  #release: (() => void) | null = null
  /** Ends the GET under way that asks why an upgrade failed. */
  #abortProbe: (() => void) | null = null
  /** Ends the token refresh under way: its getToken, or its successor's handshake. */
  #abortRefresh: (() => void) | null = null
  /** Turns the current connection into one being replaced, when its successor opens. */
  #retire: (() => void) | null = null
  /** Close the connections being replaced at once, cutting their handover short. */
  readonly #retired = new Set<() => void>()
  #token: string | undefined
  #needsToken: boolean
  #attempt = 0
  #retryTimer: ReturnType<typeof setTimeout> | undefined
  #stableTimer: ReturnType<typeof setTimeout> | undefined
  #stopped = false
  readonly #recent: RecentIds
  readonly #options: ConnectOptions

  constructor (options: ConnectOptions) {
    super()
    checkOptions(options)
    this.url = channelUrl(options)
    this.#options = options
    // Checked above: non-blank text when given.
    this.#token = options.token?.trim()
    this.#needsToken = options.token === undefined && options.getToken !== undefined
    this.#recent = new RecentIds(options.dedupeWindow ?? 1000)
    // Listeners are attached by the caller right after connect() returns, before this first attempt runs.
    queueMicrotask(() => { this.#open() })
  }

  get state (): State { return this.#state }

  /**
   * Closes the connection (1000) and stops reconnecting, at once: the state is closed, the close event fires and no
   * message follows, as a browser's socket delivers none after close(). The closing handshake goes on without the
   * client; a peer that does not answer it (a partition) is cut off after CLOSE_GRACE_MS in Node, where ws would
   * otherwise wait 30 s and keep the process alive.
   */
  close (): void {
    if (this.#stopped) return
    this.#stopped = true
    clearTimeout(this.#retryTimer)
    clearTimeout(this.#stableTimer)
    this.#release?.()
    this.#abortProbe?.()
    for (const release of this.#retired) release()
    this.#finish(1000, 'client closed')
  }

  /** Never rejects: every failure becomes an event. */
  async #open (): Promise<void> {
    if (this.#stopped) return
    try {
      if (this.#needsToken) {
        this.#token = tokenText(await (this.#options.getToken as () => unknown)())
        this.#needsToken = false
      }
    } catch (err) {
      if (this.#stopped) return // close() was called while getToken was pending
      this.#needsToken = true
      this.#retry(1006, () => { this.emit('error', new PushwireError(`getToken failed: ${(err as Error).message}`, false)) })
      return
    }
    let socket: WebSocketLike
    try {
      const WebSocketImpl = this.#options.WebSocket ?? await defaultWebSocket()
      if (this.#stopped) return
      socket = new WebSocketImpl(this.url, subprotocols(this.#token))
    } catch (err) {
      // A bad token character in the subprotocol, a blocked port, no WebSocket at all: retrying cannot help.
      return this.#fail(`cannot open a WebSocket: ${(err as Error).message}`, 1006)
    }
    this.#watch(socket, this.#token, 'current')
  }

  /**
   * Ahead of a token's expiry (with getToken, and a token whose expiry can be read): its successor, opened with a
   * fresh token, takes over before the server closes this connection with 4001, so no message meets a user offline.
   */
  #scheduleRefresh (token: string | undefined): void {
    const expiresAt = token === undefined || this.#options.getToken === undefined ? undefined : tokenExpiry(token)
    const delayMs = expiresAt === undefined ? undefined : refreshDelay(expiresAt, Date.now())
    if (delayMs === undefined) return
    const timer = setTimeout(() => { this.#refresh() }, delayMs)
    this.#abortRefresh = () => {
      clearTimeout(timer)
      this.#abortRefresh = null
    }
  }

  /** Never rejects: a refresh that fails leaves the connection to expire, and the 4001 path asks getToken again. */
  async #refresh (): Promise<void> {
    let aborted = false
    this.#abortRefresh = () => {
      aborted = true
      this.#abortRefresh = null
    }
    try {
      const token = tokenText(await (this.#options.getToken as () => unknown)())
      const WebSocketImpl = this.#options.WebSocket ?? await defaultWebSocket()
      if (aborted) return
      this.#abortRefresh = null
      this.#watch(new WebSocketImpl(this.url, subprotocols(token)), token, 'successor')
    } catch {
      if (!aborted) this.#abortRefresh = null
    }
  }

  /**
   * Follows a socket from its handshake to its close. The current one is the client's connection: its close decides
   * what comes next. A successor (see #refresh) becomes the current one when it opens, and the one it replaces is
   * retired: it goes on delivering for HANDOVER_MS, then closes, and its close decides nothing.
   */
  #watch (socket: WebSocketLike, token: string | undefined, startAs: 'current' | 'successor'): void {
    let role: 'current' | 'successor' | 'retired' = startAs
    let opened = false
    let settled = false
    // Why the client gave up on this socket itself, if it did: said in place of the close event's empty reason.
    let abandoned: string | undefined
    const connectTimeoutMs = this.#options.connectTimeoutMs ?? 10_000
    const connectTimer = setTimeout(() => { giveUp(`no answer to the opening handshake within ${connectTimeoutMs} ms`) }, connectTimeoutMs)
    /** Done with this socket: true the first time. */
    const settle = (): boolean => {
      if (settled) return false
      settled = true
      clearTimeout(connectTimer)
      pings?.stop()
      heartbeats?.stop()
      if (role === 'current') {
        this.#release = null
        this.#retire = null
        clearTimeout(this.#stableTimer)
        // A refresh under way was for this connection; what comes next is decided in #closed.
        this.#abortRefresh?.()
      } else if (role === 'successor') {
        this.#abortRefresh = null
      } else {
        this.#retired.delete(releaseRetired)
      }
      return true
    }
    const closed = (code: number, reason: string): void => {
      const decides = role === 'current'
      if (settle() && decides) this.#closed(code, abandoned ?? reason, opened, abandoned !== undefined)
    }
    /**
     * A handshake with no answer, or an open connection gone silent: done with now, not at its close event. close()
     * waits for a closing handshake that a dead peer never answers (ws gives it 30 s, browsers their own long
     * timeout; Node 20's experimental WebSocket never reports a failed opening one); ws can terminate() instead.
     */
    const giveUp = (why: string): void => {
      abandoned = why
      const node = socket as Partial<NodeWebSocket>
      if (typeof node.terminate === 'function') node.terminate()
      else socket.close()
      closed(1006, why)
    }
    const release = (reason: string): void => {
      settle()
      socket.close(1000, reason)
      const node = socket as Partial<NodeWebSocket>
      if (typeof node.terminate !== 'function') return
      const cutOff = setTimeout(() => { node.terminate?.() }, CLOSE_GRACE_MS)
      socket.addEventListener('close', () => { clearTimeout(cutOff) })
    }
    const becomeCurrent = (): void => {
      role = 'current'
      this.#release = () => { release('client closed') }
      this.#retire = () => {
        role = 'retired'
        handover = setTimeout(() => { release('token refreshed') }, HANDOVER_MS)
        this.#retired.add(releaseRetired)
      }
    }
    let handover: ReturnType<typeof setTimeout> | undefined
    const releaseRetired = (): void => {
      clearTimeout(handover)
      release('client closed')
    }
    if (role === 'current') becomeCurrent()
    else this.#abortRefresh = () => { giveUp('replaced') }
    const pings = this.#watchPings(socket, giveUp)
    let heartbeats: Silence | undefined
    socket.addEventListener('open', () => {
      clearTimeout(connectTimer)
      pings?.heard() // the first ping is up to one heartbeat interval away
      opened = true
      if (role === 'successor') {
        // The handover: this connection takes over, the one it replaces delivers a moment longer. No events: the
        // stream goes on, with nothing missed in between.
        this.#abortRefresh = null
        this.#retire?.()
        becomeCurrent()
        this.#token = token
        this.#scheduleRefresh(token)
        return
      }
      this.#state = 'open'
      const attempt = this.#attempt
      this.#stableTimer = setTimeout(() => { this.#attempt = 0 }, this.#options.stableAfterMs ?? 5000)
      this.#scheduleRefresh(token)
      this.emit('open', { attempt })
    })
    socket.addEventListener('message', event => {
      if (settled) return
      pings?.heard()
      heartbeats?.heard()
      const intervalMs = this.#receive(event.data)
      // Armed by the first heartbeat frame (sent right after the upgrade), and only when the server selected them.
      if (intervalMs !== undefined && heartbeats === undefined && socket.protocol === HEARTBEAT_SUBPROTOCOL) {
        const timeoutMs = 2 * intervalMs + HEARTBEAT_GRACE_MS
        heartbeats = silence(timeoutMs, () => { giveUp(`no heartbeat from the server within ${timeoutMs} ms`) })
        heartbeats.heard()
      }
    })
    // A close event always follows an error; that is where the decision is made.
    socket.addEventListener('error', () => {})
    socket.addEventListener('close', event => { closed(event.code, event.reason) })
  }

  /**
   * With heartbeatTimeoutMs, under ws: a timer that each server ping (and each message) restarts. It covers servers
   * older than heartbeat frames: a link that died without a FIN or RST (a NAT that forgot it) is otherwise open for
   * good on this side, long after the server terminated it on a missed pong. Browsers hide pings: nothing to watch.
   */
  #watchPings (socket: WebSocketLike, giveUp: (why: string) => void): Silence | undefined {
    const timeoutMs = this.#options.heartbeatTimeoutMs
    if (timeoutMs === undefined || typeof (socket as Partial<NodeWebSocket>).on !== 'function') return undefined
    const watch = silence(timeoutMs, () => { giveUp(`no ping from the server within ${timeoutMs} ms`) })
    ;(socket as NodeWebSocket).on('ping', watch.heard)
    return watch
  }

  /** Emits what a frame carries; a heartbeat frame is no message: its interval is returned instead. */
  #receive (data: unknown): number | undefined {
    const text = String(data)
    // A text line always starts with "[", a JSON frame (a heartbeat) with "{".
    if (this.#options.format === 'text' && !text.startsWith('{')) {
      this.emit('message', text as M)
      return
    }
    let frame: { type?: unknown, id?: unknown, message?: unknown, intervalMs?: unknown }
    try {
      frame = JSON.parse(text) as typeof frame
    } catch {
      this.emit('error', new PushwireError('the server sent a frame that is not JSON', false))
      return
    }
    // Any JSON is a frame type this client does not know (null, 42, [1]): ignored like one.
    if (typeof frame !== 'object' || frame === null) return
    if (frame.type === 'heartbeat') return usableInterval(frame.intervalMs)
    if (frame.type === 'error') {
      this.emit('error', new PushwireError(typeof frame.message === 'string' ? `server: ${frame.message}` : 'the server sent an error frame without a message', false))
      return
    }
    if (frame.type !== 'message' || typeof frame.id !== 'string') return // a frame type newer than this client
    if (this.#recent.add(frame.id)) this.emit('message', frame as M)
  }

  async #closed (code: number, reason: string, opened: boolean, abandoned: boolean): Promise<void> {
    let action: Action
    let why = reason
    let waitMs = 0
    if (abandoned) {
      // The client gave up itself (a hung handshake, a silent connection): asking the server why would hang too.
      action = 'reconnect'
    } else if (opened) {
      action = afterClose(code)
      why = `closed with ${code}${reason === '' ? '' : ` (${reason})`}`
    } else {
      // Neither browsers nor the WebSocket API expose a refused upgrade's status, so ask the server with a plain GET.
      const answer = await this.#probe()
      waitMs = answer?.retryAfterMs ?? 0
      action = afterRefusal(answer === null ? null : answer.status)
      why = answer === null ? 'server unreachable' : `upgrade refused with HTTP ${answer.status}${answer.message === '' ? '' : ` (${answer.message})`}`
    }
    if (this.#stopped) return // close() was called during the probe and has already finished
    if (action === 'refresh') {
      if (this.#options.getToken === undefined) return this.#fail(`${why}: a fresh token is needed and there is no getToken`, code)
      this.#needsToken = true
    }
    if (action === 'stop') return this.#fail(`${why}: not reconnecting`, code)
    this.#retry(code, () => { this.emit('close', { code, reason, willReconnect: true }) }, waitMs)
  }

  /**
   * Schedules the next attempt, and only then tells listeners: announce (what went wrong), then reconnecting. So a
   * listener sees the state it is told about, and nothing a listener does can keep the next attempt from running.
   */
  #retry (code: number, announce: () => void, atLeastMs = 0): void {
    const delayMs = Math.max(atLeastMs, backoffDelay(this.#attempt, this.#options.initialDelayMs ?? 500, this.#options.maxDelayMs ?? 10_000))
    this.#attempt++
    this.#state = 'reconnecting'
    this.#retryTimer = setTimeout(() => { this.#open() }, delayMs)
    announce()
    if (this.#stopped) return // that listener called close(), which has already reported the end
    this.emit('reconnecting', { attempt: this.#attempt, delayMs, code })
  }

  /** The answer to a plain GET of the channel URL: the server runs the same checks, then answers 426. */
  async #probe (): Promise<{ status: number, message: string, retryAfterMs: number } | null> {
    const headers: Record<string, string> = this.#token === undefined ? {} : { authorization: `Bearer ${this.#token}` }
    // A server that accepts the GET but never answers must not stall reconnecting for good, nor close() wait for it
    // (an open fetch keeps a Node process alive).
    const abort = new AbortController()
    this.#abortProbe = () => { abort.abort() }
    const timer = setTimeout(this.#abortProbe, this.#options.probeTimeoutMs ?? 5000)
    const answer = await this.#get(headers, abort.signal)
    clearTimeout(timer)
    this.#abortProbe = null
    return answer
  }

  async #get (headers: Record<string, string>, signal: AbortSignal): Promise<{ status: number, message: string, retryAfterMs: number } | null> {
    try {
      const res = await fetch(this.url.replace(/^ws/, 'http'), { headers, signal })
      // pushwire's error body says what was wrong; anything else (a proxy's page) is not shown.
      const body = await res.json().catch(() => null) as { message?: unknown } | null
      return { status: res.status, message: typeof body?.message === 'string' ? body.message : '', retryAfterMs: retryAfterMs(res.headers.get('retry-after')) }
    } catch {
      return null
    }
  }

  #fail (message: string, code: number): void {
    this.#stopped = true
    this.#state = 'closed'
    this.emit('error', new PushwireError(message, true, code))
    this.#finish(code, message)
  }

  #finish (code: number, reason: string): void {
    this.#state = 'closed'
    this.emit('close', { code, reason, willReconnect: false })
  }
}

interface Silence { heard: () => void, stop: () => void }

/** A timer that each sign of life restarts, and that calls onSilence when it runs out. */
function silence (timeoutMs: number, onSilence: () => void): Silence {
  let timer: ReturnType<typeof setTimeout> | undefined
  return {
    heard: () => {
      clearTimeout(timer)
      timer = setTimeout(onSilence, timeoutMs)
    },
    stop: () => { clearTimeout(timer) }
  }
}

/**
 * A token as sent in the subprotocol: a backend's text answer often ends in a newline, which no subprotocol may hold
 * (the WebSocket would not even open). Anything but non-blank text is refused with an error that says so.
 */
function tokenText (token: unknown): string {
  if (typeof token !== 'string' || token.trim() === '') throw new TypeError(`expected a token, got ${typeof token === 'string' ? 'blank text' : String(token)}`)
  return token.trim()
}

function subprotocols (token: string | undefined): string[] {
  return token === undefined ? [HEARTBEAT_SUBPROTOCOL, SUBPROTOCOL] : [HEARTBEAT_SUBPROTOCOL, SUBPROTOCOL, `bearer.${token}`]
}

/** The longest wait a server's Retry-After is followed for. */
const MAX_RETRY_AFTER_MS = 5 * 60_000

/**
 * Retry-After in seconds (a rate limit's window), as the least wait before the next attempt: retrying sooner would
 * be refused again, and the probe of each refusal spends the same budget. A date form is left to the backoff.
 */
function retryAfterMs (header: string | null): number {
  const seconds = header?.trim() ?? ''
  return /^\d{1,6}$/.test(seconds) ? Math.min(Number(seconds) * 1000, MAX_RETRY_AFTER_MS) : 0
}

/** A heartbeat frame's interval, if its silence timeout would make a working timer; else the frame arms nothing. */
function usableInterval (intervalMs: unknown): number | undefined {
  const ok = typeof intervalMs === 'number' && intervalMs >= 1 && 2 * intervalMs + HEARTBEAT_GRACE_MS <= MAX_TIMER_MS
  return ok ? intervalMs : undefined
}

const DURATIONS = ['connectTimeoutMs', 'heartbeatTimeoutMs', 'probeTimeoutMs', 'initialDelayMs', 'maxDelayMs', 'stableAfterMs'] as const
const MAX_DEDUPE_WINDOW = 1_000_000

/**
 * Options that would make the client misbehave rather than fail: a "no timeout" of 0 or Infinity times every attempt
 * out at once, a NaN or negative delay reconnects hundreds of times a second, a topic with a comma is two topics.
 */
function checkOptions (options: ConnectOptions): void {
  for (const name of DURATIONS) {
    const value = options[name]
    if (value !== undefined && !(typeof value === 'number' && value >= 1 && value <= MAX_TIMER_MS)) {
      throw new TypeError(`connect: ${name} must be a number of milliseconds from 1 to ${MAX_TIMER_MS}`)
    }
  }
  const window = options.dedupeWindow
  if (window !== undefined && !(Number.isInteger(window) && window >= 0 && window <= MAX_DEDUPE_WINDOW)) {
    throw new TypeError(`connect: dedupeWindow must be a whole number from 0 (no deduplication) to ${MAX_DEDUPE_WINDOW}`)
  }
  if (options.topics !== undefined && !(Array.isArray(options.topics) && options.topics.every(isTopic))) {
    throw new TypeError(`connect: topics must be a list of topic names, each ${TOPIC_RULE}`)
  }
  const distinct = new Set(options.topics).size
  if (distinct > MAX_TOPICS_PER_CONNECTION) {
    throw new TypeError(`connect: topics holds ${distinct} topics; a connection may hold at most ${MAX_TOPICS_PER_CONNECTION}`)
  }
  if (options.token !== undefined && (typeof options.token !== 'string' || options.token.trim() === '')) {
    throw new TypeError('connect: token must be non-blank text')
  }
  if (options.format !== undefined && options.format !== 'json' && options.format !== 'text') {
    throw new TypeError('connect: format must be "json" or "text"')
  }
}

/** ws://host/ws/<user>?topics=…&format=text from the service's base URL. */
function channelUrl (options: ConnectOptions): string {
  if (typeof options.userId !== 'string' || options.userId === '') throw new TypeError('connect: userId is required')
  // The server refuses any other id, some of them before a route (and from another origin, unreadably), and the URL
  // would resolve "." and ".." away: a mistake to say now rather than in an endless reconnect.
  if (!isUserId(options.userId)) throw new TypeError(`connect: userId must be ${USER_ID_RULE}`)
  const url = new URL(options.url)
  if (url.protocol === 'http:' || url.protocol === 'https:') url.protocol = url.protocol === 'http:' ? 'ws:' : 'wss:'
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new TypeError(`connect: url must be http(s) or ws(s), got ${options.url}`)
  url.pathname = `${url.pathname.replace(/\/$/, '')}/ws/${encodeURIComponent(options.userId)}`
  url.search = ''
  // A page's location.href may carry one; a WebSocket URL must not.
  url.hash = ''
  if (options.topics !== undefined && options.topics.length > 0) url.searchParams.set('topics', options.topics.join(','))
  if (options.format === 'text') url.searchParams.set('format', 'text')
  return url.toString()
}

async function defaultWebSocket (): Promise<WebSocketConstructor> {
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
  if (global !== undefined) return global
  const ws = await import('ws')
  return ws.WebSocket as unknown as WebSocketConstructor
}
