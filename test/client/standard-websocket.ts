// ws behind nothing but the standard WebSocket API, the way a browser's WebSocket looks to the client: no pings to
// see, no terminate(), and close() waits for the server's answer.
import WebSocket from 'ws'
import type { WebSocketLike } from '../../src/client/index.js'

export class StandardWebSocket implements WebSocketLike {
  readonly #ws: WebSocket
  constructor (url: string, protocols: string[]) { this.#ws = new WebSocket(url, protocols) }
  get readyState (): number { return this.#ws.readyState }
  get protocol (): string { return this.#ws.protocol }
  close (code?: number, reason?: string): void { this.#ws.close(code, reason) }
  addEventListener (type: string, listener: (event: never) => void): void { this.#ws.addEventListener(type as 'open', listener as () => void) }
}
