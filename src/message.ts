// One message on its way out: created once per send, encoded at most once per frame format,
// and the same WebSocket frame (header and payload in one Buffer) is written to every receiving socket.
import type { FrameFormat } from './schemas/ws.js'
import { isoNow, uuidv7 } from './uuid7.js'
import { framePayload, textFrame } from './ws-frame.js'

export type Target =
  | { kind: 'direct', receiver: string }
  | { kind: 'topic', topic: string }
  | { kind: 'broadcast' }

export class OutgoingMessage {
  #json: Buffer | undefined
  #text: Buffer | undefined
  #jsonFrame: Buffer | undefined
  #textFrame: Buffer | undefined

  constructor (
    readonly sender: string,
    readonly text: string,
    readonly target: Target,
    readonly id: string = uuidv7(),
    readonly sentAt: string = isoNow()
  ) {}

  /**
   * A message received from another node: its JSON frame arrives already encoded, so that Buffer is
   * written as it is and only the text format, if any socket wants it, is built here.
   */
  static fromFrame (frame: Buffer): OutgoingMessage {
    const f = JSON.parse(frame.toString()) as { id: string, sender: string, message: string, sentAt: string, receiver?: string, topic?: string }
    const target: Target = f.receiver !== undefined
      ? { kind: 'direct', receiver: f.receiver }
      : f.topic !== undefined ? { kind: 'topic', topic: f.topic } : { kind: 'broadcast' }
    const message = new OutgoingMessage(f.sender, f.message, target, f.id, f.sentAt)
    message.#json = frame
    return message
  }

  /** The payload for a format (what a client reads, and what goes to Redis): a view on the frame's payload. */
  encode (format: FrameFormat): Buffer {
    if (format === 'text') return (this.#text ??= framePayload(this.frame('text')))
    return (this.#json ??= framePayload(this.frame('json')))
  }

  /**
   * The whole WebSocket frame for a format, built on first use and written as it is to every socket after. A message
   * from another node already has its JSON payload: that is framed as it is, never serialized again.
   */
  frame (format: FrameFormat): Buffer {
    if (format === 'text') return (this.#textFrame ??= textFrame(this.#textLine()))
    return (this.#jsonFrame ??= textFrame(this.#json ?? this.#jsonText()))
  }

  /**
   * The JSON frame text. Written out rather than JSON.stringify'd from an object (a third cheaper per message): only
   * the texts a client chose are escaped by JSON.stringify; the id (hex and dashes) and sentAt (ISO-8601) need none.
   */
  #jsonText (): string {
    const { id, sender, text, sentAt, target } = this
    const to = target.kind === 'direct'
      ? `"receiver":${JSON.stringify(target.receiver)}`
      : target.kind === 'topic' ? `"topic":${JSON.stringify(target.topic)}` : '"broadcast":true'
    return `{"type":"message","id":"${id}","sender":${JSON.stringify(sender)},${to},"message":${JSON.stringify(text)},"sentAt":"${sentAt}"}`
  }

  #textLine (): string {
    switch (this.target.kind) {
      case 'direct': return `[${this.sender}]: ${this.text}`
      case 'topic': return `[${this.sender} → #${this.target.topic}]: ${this.text}`
      case 'broadcast': return `[${this.sender} → all]: ${this.text}`
    }
  }
}
