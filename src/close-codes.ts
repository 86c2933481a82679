// Every way a /ws/:userId connection can end, in one table: the server closes with these entries, and
// asyncapi.yaml and openapi.yaml list them from here, so the contracts cannot name a code the server never uses.
import { MAX_CLIENT_FRAGMENTS, MAX_CLIENT_FRAME_BYTES } from './schemas/ws.js'

export interface CloseCode {
  readonly code: number
  /** The reason in the close frame; '' when none is sent. */
  readonly reason: string
  /** When the connection ends with this code. */
  readonly when: string
  /** What a client should do next. */
  readonly then: string
}

export const CLOSE = {
  goingAway: {
    code: 1001,
    reason: 'server shutting down',
    when: 'the server is shutting down (SIGTERM or SIGINT)',
    then: 'reconnect after a moment, to another node or to this one once it is back'
  },
  protocolError: {
    code: 1002,
    reason: '',
    when: 'the client broke the WebSocket protocol itself (a reserved opcode, an unmasked frame …); closed by ws',
    then: 'fix the client'
  },
  invalidPayload: {
    code: 1007,
    reason: '',
    when: 'a client text frame is not valid UTF-8; closed by ws',
    then: 'do not send frames: the channel is receive-only'
  },
  policyViolation: {
    code: 1008,
    reason: '',
    when: `a client message in more than ${MAX_CLIENT_FRAGMENTS} fragments; closed by ws`,
    then: 'do not reconnect: the client misbehaves'
  },
  messageTooBig: {
    code: 1009,
    reason: '',
    when: `a client frame over ${MAX_CLIENT_FRAME_BYTES / 1024} KiB; closed by ws`,
    then: 'do not send frames: the channel is receive-only'
  },
  slowConsumer: {
    code: 1013,
    reason: 'slow consumer',
    when: 'more than MAX_BUFFERED_BYTES (default 1 MiB) is waiting for the client to read it',
    then: 'read faster, then reconnect'
  },
  tokenExpired: {
    code: 4001,
    reason: 'token expired',
    when: 'the receiver token expired (auth mode)',
    then: 'fetch a fresh token, then reconnect'
  },
  abnormal: {
    code: 1006,
    reason: '',
    when: 'never sent: the client reports it when the connection ends without a close frame (network loss, a missed heartbeat, a ping flood: more than 60 pings in a row before their pongs are written, or still open 2 s after the shutdown close)',
    then: 'reconnect'
  }
} as const satisfies Record<string, CloseCode>

/** Every entry, by code. */
export const CLOSE_CODES: readonly CloseCode[] = Object.values(CLOSE).sort((a, b) => a.code - b.code)

/**
 * ws closes a socket that broke the protocol before it reports the error, and the error carries only its own
 * code: this maps that code to the close code ws sent, so the log and metrics say the same as the wire.
 */
export const WS_ERROR_CLOSE_CODES: Readonly<Record<string, number>> = {
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: CLOSE.messageTooBig.code,
  WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH: CLOSE.messageTooBig.code,
  WS_ERR_INVALID_UTF8: CLOSE.invalidPayload.code,
  WS_ERR_TOO_MANY_BUFFERED_PARTS: CLOSE.policyViolation.code
}
