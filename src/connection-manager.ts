// The heart of pushwire: which sockets are open, indexed by user and by topic, and the writes to them.
// No Fastify in here: routes talk to this narrow interface, so a Redis-backed fan-out can sit behind it later.
import { WebSocket } from 'ws'
import { CLOSE, type CloseCode } from './close-codes.js'
import type { OutgoingMessage } from './message.js'
import type { FrameFormat } from './schemas/ws.js'
import { releaseIfHeld, writeFrame } from './ws-frame.js'

const noop = (): void => {}

const kConnection = Symbol('pushwire.connection')
type Tagged = WebSocket & { [kConnection]?: Connection }

/** One open WebSocket of one user. */
export class Connection {
  /** Cleared when a ping goes out, set again by the pong; see the heartbeat in routes/ws.ts. */
  isAlive = true
  /** Closes the connection when its receiver token expires (auth mode only). */
  expiry: NodeJS.Timeout | undefined = undefined
  /** The code the server closed with, when it closed first; the peer may never echo it back. */
  closeCode: number | undefined = undefined
  /** Gives back what made this connection reachable (cluster mode: its Redis channels and presence). */
  release: () => void = noop
  /** When it opened (performance.now()), for how long it stayed. */
  readonly openedAt = performance.now()

  constructor (
    readonly id: string,
    readonly userId: string,
    readonly topics: readonly string[],
    readonly format: FrameFormat,
    readonly socket: WebSocket
  ) {
    (socket as Tagged)[kConnection] = this
  }

  /**
   * The connection a socket belongs to. Lets every socket share one set of event listeners (ws calls them with the
   * socket as `this`) instead of holding closures of its own.
   */
  static of (socket: WebSocket): Connection {
    return (socket as Tagged)[kConnection] as Connection
  }
}

export interface ConnectionManagerOptions {
  /** A socket with more than this many bytes queued is a slow consumer: it is closed with 1013. */
  maxBufferedBytes: number
  /** Told after a slow consumer was unregistered and closed, with its unread bytes and the frame that did not fit. */
  onSlowConsumer?: (connection: Connection, queuedBytes: number) => void
  /** How long a socket the server closes has to answer the close handshake before it is cut off (default 2 s). */
  closeGraceMs?: number
}

export class ConnectionManager {
  readonly #byUser = new Map<string, Set<Connection>>()
  readonly #byTopic = new Map<string, Set<Connection>>()
  readonly #all = new Set<Connection>()
  readonly #maxBufferedBytes: number
  readonly #onSlowConsumer: (connection: Connection, queuedBytes: number) => void
  readonly #closeGraceMs: number
  /** Every frame ever written; a plain number so the hot path pays nothing for metrics. */
  framesWritten = 0

  constructor (options: ConnectionManagerOptions) {
    this.#maxBufferedBytes = options.maxBufferedBytes
    this.#onSlowConsumer = options.onSlowConsumer ?? (() => {})
    this.#closeGraceMs = options.closeGraceMs ?? 2000
  }

  /** Registers a connection under its user and each of its topics. */
  add (connection: Connection): void {
    this.#all.add(connection)
    addTo(this.#byUser, connection.userId, connection)
    for (const topic of connection.topics) addTo(this.#byTopic, topic, connection)
  }

  /** Unregisters a connection; indexes left empty are deleted. Returns false if it was not registered. */
  remove (connection: Connection): boolean {
    if (!this.#all.delete(connection)) return false
    deleteFrom(this.#byUser, connection.userId, connection)
    for (const topic of connection.topics) deleteFrom(this.#byTopic, topic, connection)
    connection.release()
    return true
  }

  /**
   * Closes a connection from the server side: unregistered at once (no more frames), and its code remembered,
   * because a peer that stops reading never echoes the close frame back. Such a peer (a slow consumer, a frozen tab,
   * a partition) is cut off after the grace: ws would wait 30 s for its answer, holding the socket and its unread bytes.
   */
  close (connection: Connection, { code, reason }: CloseCode): void {
    this.remove(connection)
    connection.closeCode = code
    const { socket } = connection
    socket.close(code, reason)
    const cutOff = setTimeout(() => { socket.terminate() }, this.#closeGraceMs).unref()
    socket.once('close', () => { clearTimeout(cutOff) })
  }

  /** Writes to every open connection of a user; returns how many took the frame. */
  send (userId: string, message: OutgoingMessage): number {
    return this.#deliver(this.#byUser.get(userId), message)
  }

  /** Writes to every open connection subscribed to a topic. */
  publish (topic: string, message: OutgoingMessage): number {
    return this.#deliver(this.#byTopic.get(topic), message)
  }

  /** Writes to every open connection. */
  broadcast (message: OutgoingMessage): number {
    return this.#deliver(this.#all, message)
  }

  connectionsOf (userId: string): number {
    return this.#byUser.get(userId)?.size ?? 0
  }

  get connectionCount (): number { return this.#all.size }
  get userCount (): number { return this.#byUser.size }
  get topicCount (): number { return this.#byTopic.size }

  /** Every registered connection (a live view: removing during iteration is safe). */
  connections (): IterableIterator<Connection> {
    return this.#all.values()
  }

  /**
   * Writes a frame from textFrame() that is no message (the heartbeat frame) to one connection, with a message's
   * slow-consumer check and held writes. Not counted in framesWritten, which counts messages' frames.
   */
  write (connection: Connection, frame: Buffer): void {
    this.#write(connection, frame, 1)
  }

  #deliver (connections: Set<Connection> | undefined, message: OutgoingMessage): number {
    if (connections === undefined) return 0
    let written = 0
    for (const connection of connections) {
      if (this.#write(connection, message.frame(connection.format), connections.size)) written++
    }
    this.framesWritten += written
    return written
  }

  /** Writes to an open socket, as one of a delivery to fanOut connections; false if closed, or now closed as slow. */
  #write (connection: Connection, frame: Buffer, fanOut: number): boolean {
    const { socket } = connection
    if (socket.readyState !== WebSocket.OPEN) return false
    // Checked before writing, so a frame counted as written is one the socket will really flush.
    if (this.#wouldOverflow(socket, frame)) {
      const queuedBytes = socket.bufferedAmount + frame.length
      this.close(connection, CLOSE.slowConsumer)
      this.#onSlowConsumer(connection, queuedBytes)
      return false
    }
    writeFrame(socket, frame, fanOut)
    return true
  }

  /**
   * True when the socket's unread bytes and this frame pass maxBufferedBytes. Bytes held for the turn's end are
   * handed to the kernel first: the peer has not had the chance to read them.
   */
  #wouldOverflow (socket: WebSocket, frame: Buffer): boolean {
    const limit = this.#maxBufferedBytes - frame.length
    if (socket.bufferedAmount <= limit) return false
    return !releaseIfHeld(socket) || socket.bufferedAmount > limit
  }
}

function addTo (index: Map<string, Set<Connection>>, key: string, connection: Connection): void {
  const set = index.get(key)
  if (set === undefined) index.set(key, new Set([connection]))
  else set.add(connection)
}

function deleteFrom (index: Map<string, Set<Connection>>, key: string, connection: Connection): void {
  // Present: add() indexed every key that remove() passes here.
  const set = index.get(key) as Set<Connection>
  set.delete(connection)
  if (set.size === 0) index.delete(key)
}
