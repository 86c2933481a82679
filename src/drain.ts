// A shutdown's end for plain HTTP connections. Node's server.close() ends only the connections that sit idle between
// requests. One opened but never used (load balancers and browsers open them ahead), or one partway through its
// headers, counts as busy, and held the exit until SHUTDOWN_TIMEOUT_MS (then exit 1). An answer written after the
// shutdown began said keep-alive, so its connection then stayed open for Fastify's 72 s keep-alive timeout.
import { ServerResponse, type IncomingMessage, type Server } from 'node:http'
import type { Socket } from 'node:net'

export class Drain {
  #begun = false
  /** Plain HTTP connections: an upgraded one leaves (the WebSocket routes close those). */
  readonly #sockets = new Set<Socket>()

  /** For http.createServer's `ServerResponse` option: every answer written once the drain began closes its connection. */
  readonly ServerResponse: typeof ServerResponse

  constructor () {
    const drain = this
    const writeHead = ServerResponse.prototype.writeHead as (this: ServerResponse, ...args: unknown[]) => ServerResponse
    class DrainingResponse extends ServerResponse {}
    // Node reads shouldKeepAlive when it writes the head: false sends "Connection: close" and ends the socket after.
    // (Fastify's own 503s from the start of a shutdown say it too; this covers answers already under way then.)
    // Three parameters rather than a rest parameter: no array per answer. Node's writeHead tells its forms apart by
    // their types, so the ones not given pass as undefined.
    DrainingResponse.prototype.writeHead = function (this: ServerResponse, statusCode: unknown, reason: unknown, headers: unknown) {
      if (drain.#begun) this.shouldKeepAlive = false
      return writeHead.call(this, statusCode, reason, headers)
    } as ServerResponse['writeHead']
    this.ServerResponse = DrainingResponse as typeof ServerResponse
  }

  /** Follows the server's connections from now on. */
  track (server: Server): void {
    const sockets = this.#sockets
    // One listener shared by every socket (called with it as `this`): no closure per connection.
    function forget (this: Socket): void {
      sockets.delete(this)
    }
    server.on('connection', (socket: Socket) => {
      sockets.add(socket)
      socket.on('close', forget)
    })
    server.on('upgrade', (_request: IncomingMessage, socket: Socket) => {
      sockets.delete(socket)
      socket.off('close', forget)
    })
  }

  /** From now on, every answer closes its connection. */
  begin (): void {
    this.#begun = true
  }

  /** Plain HTTP connections still open. */
  get connections (): number {
    return this.#sockets.size
  }

  /** Whether the shutdown has begun. */
  get begun (): boolean {
    return this.#begun
  }

  /** Ends every connection that is not waiting for its answer; the others end once it is written. */
  closeUnanswered (): void {
    for (const socket of this.#sockets) {
      // Node's own mark of a connection whose request has a response under way.
      if ((socket as Socket & { _httpMessage?: unknown })._httpMessage == null) socket.destroy()
    }
  }
}
