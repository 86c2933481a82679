// One message on its way out: created once per send, encoded at most once per frame format,
// and the same Buffer is written to every receiving socket.
import { v7 as uuidv7 } from 'uuid'
import type { FrameFormat } from './schemas/ws.js'

export type Target =
  | { kind: 'direct', receiver: string }
  | { kind: 'topic', topic: string }
  | { kind: 'broadcast' }

export class OutgoingMessage {
  readonly id = uuidv7()
  readonly sentAt = new Date().toISOString()
  #json: Buffer | undefined
  #text: Buffer | undefined

  constructor (readonly sender: string, readonly text: string, readonly target: Target) {}

  /** The frame for a format, serialized on first use and reused for every socket after. */
  encode (format: FrameFormat): Buffer {
    if (format === 'text') return (this.#text ??= Buffer.from(this.#textLine()))
    return (this.#json ??= Buffer.from(JSON.stringify(this.#frame())))
  }

  #frame (): Record<string, unknown> {
    const { id, sender, text: message, sentAt, target } = this
    switch (target.kind) {
      case 'direct': return { type: 'message', id, sender, receiver: target.receiver, message, sentAt }
      case 'topic': return { type: 'message', id, sender, topic: target.topic, message, sentAt }
      case 'broadcast': return { type: 'message', id, sender, broadcast: true, message, sentAt }
    }
  }

  #textLine (): string {
    switch (this.target.kind) {
      case 'direct': return `[${this.sender}]: ${this.text}`
      case 'topic': return `[${this.sender} → #${this.target.topic}]: ${this.text}`
      case 'broadcast': return `[${this.sender} → all]: ${this.text}`
    }
  }
}
