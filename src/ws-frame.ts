// WebSocket frames built once per message and written as they are to every receiving socket, a busy event-loop turn's
// frames together. ws's send() frames its payload again for each socket (a fresh header Buffer, then a corked
// two-buffer writev); on the send path that was per-socket work for what is the same bytes every time, and a
// broadcast to 10,000 sockets paid it 10,000 times.
import type { Socket } from 'node:net'
import type { WebSocket } from 'ws'

/**
 * A complete, unmasked (server to client), unfragmented text frame holding this payload (RFC 6455, 5.2). A string is
 * encoded as UTF-8 straight into the frame: one allocation and no copy.
 */
export function textFrame (payload: string | Buffer): Buffer {
  const length = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length
  const header = length < 126 ? 2 : length < 65536 ? 4 : 10
  const frame = Buffer.allocUnsafe(header + length)
  frame[0] = 0x81 // FIN, opcode 1 (text)
  if (header === 2) {
    frame[1] = length
  } else if (header === 4) {
    frame[1] = 126
    frame.writeUInt16BE(length, 2)
  } else {
    frame[1] = 127
    frame.writeUInt32BE(0, 2) // payloads here are far below 4 GiB
    frame.writeUInt32BE(length, 6)
  }
  if (typeof payload === 'string') frame.write(payload, header)
  else payload.copy(frame, header)
  return frame
}

/** The payload of a frame from textFrame(), as a view on the same memory. */
export function framePayload (frame: Buffer): Buffer {
  const length = frame[1] as number
  return frame.subarray(length < 126 ? 2 : length === 126 ? 4 : 10)
}

/** The TCP socket under a ws WebSocket (not in ws's typings, but the field ws itself writes every frame to). */
interface WithSocket { _socket: Socket }

/**
 * How many frames of one event-loop turn are written at once; later ones are held until the turn ends. A lone send
 * (2,000 msg/s arrive 1 to 4 per turn) goes out with no wait; under load, when one turn reads 30 requests, the rest
 * of its frames leave back to back at its end, and a socket given several frames in the turn writes them all at once.
 * Each write to a receiver that is asleep wakes it, and those wake-ups were the largest cost of a loopback frame:
 * holding cut server CPU per message by about 15 % at full rate (BENCHMARKS.md's findings).
 */
export const WRITTEN_AT_ONCE = 4

/**
 * A delivery to more connections than this is never held. Its writes are back to back already, and holding them
 * would only keep its receivers idle until the turn ends (a broadcast to 10,000 took 92 ms to its last frame held,
 * against 83 ms written at once).
 */
export const HELD_FAN_OUT_AT_MOST = 64

const held: Socket[] = []
let writtenThisTurn = 0

/** The end of the turn: every held socket writes what it holds, in order, one write each. */
function releaseHeld (): void {
  writtenThisTurn = 0
  for (const socket of held) socket.uncork()
  held.length = 0
}

/** Holds the socket until the turn ends, unless this is one of the turn's first writes or it is held already. */
function holdIfBusy (tcp: Socket): void {
  if (writtenThisTurn++ === 0) setImmediate(releaseHeld)
  else if (writtenThisTurn > WRITTEN_AT_ONCE && tcp.writableCorked === 0) {
    tcp.cork()
    held.push(tcp)
  }
}

/**
 * Hands what a held socket holds to the kernel now; false if it held nothing. Held bytes count in ws's
 * bufferedAmount, but they are this turn's frames, not ones the peer left unread, so the slow-consumer check
 * releases them before it decides. A kernel that takes only part of them leaves the rest counted until the write
 * completes; writeFrame() keeps that part at most a high-water mark (16 KiB).
 */
export function releaseIfHeld (socket: WebSocket): boolean {
  const tcp = (socket as unknown as WithSocket)._socket
  if (tcp.writableCorked === 0) return false
  tcp.uncork()
  return true
}

/**
 * Writes a frame from textFrame() to an open WebSocket, as one of a delivery to `fanOut` connections. Safe next to
 * ws's own writes (pings, closes, the receive-only answer) because nothing here makes ws queue: no permessage-deflate
 * and no Blob payloads, so ws writes each of its frames synchronously, in call order, to this same socket. A held
 * socket keeps that order: a close frame is held behind the frames before it, and socket.end() (after the close
 * handshake, or when the peer hangs up) releases everything. A socket holding its high-water mark (16 KiB) or more
 * is released at once: that much is one efficient write already, and bufferedAmount, which counts held bytes, stays
 * close to what the peer has left unread.
 */
export function writeFrame (socket: WebSocket, frame: Buffer, fanOut: number): void {
  const tcp = (socket as unknown as WithSocket)._socket
  if (fanOut <= HELD_FAN_OUT_AT_MOST) holdIfBusy(tcp)
  tcp.write(frame)
  if (tcp.writableCorked > 0 && tcp.writableLength >= tcp.writableHighWaterMark) tcp.uncork()
}
