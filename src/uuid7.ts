// UUIDv7 message ids (RFC 9562) laid out as the uuid package lays them out: a 48-bit millisecond timestamp, a 32-bit
// counter seeded at random each millisecond (so ids made in one process sort in the order they were made), then
// random bits. The difference is the randomness: the uuid package asks crypto for 16 bytes per id, which the send
// path paid on every message; here one randomFillSync fills a pool that lasts for hundreds of ids.
import { randomFillSync } from 'node:crypto'

const POOL_BYTES = 4096
/** Random bytes one id uses: 4 to seed the counter, 1 for two bits of byte 10, 5 for the tail. */
const PER_ID = 10
const pool = Buffer.allocUnsafe(POOL_BYTES)
let next = POOL_BYTES
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

/** Where one generator stands: the millisecond of its last id and the counter within it. */
export interface Uuid7State { ms: number, seq: number, prefix: string }

const shared: Uuid7State = { ms: -Infinity, seq: 0, prefix: '' }

/** A new UUIDv7, greater than every id this state made before, even if the clock steps back. */
export function uuidv7 (now = Date.now(), state = shared): string {
  if (next + PER_ID > POOL_BYTES) {
    randomFillSync(pool)
    next = 0
  }
  const r = next
  next += PER_ID
  if (now > state.ms) {
    state.ms = now
    state.seq = pool.readUInt32BE(r) & 0x7fffffff
    state.prefix = ''
  } else if (state.seq === 0xffffffff) {
    // The counter ran out within one millisecond: borrow the next one, as the uuid package does.
    state.ms++
    state.seq = 0
    state.prefix = ''
  } else {
    state.seq++
  }
  if (state.prefix === '') {
    const hex = state.ms.toString(16).padStart(12, '0')
    state.prefix = `${hex.slice(0, 8)}-${hex.slice(8)}-`
  }
  const seq = state.seq
  return state.prefix +
    hex(0x70 | seq >>> 28) + hex(seq >>> 20 & 0xff) + '-' +
    hex(0x80 | seq >>> 14 & 0x3f) + hex(seq >>> 6 & 0xff) + '-' +
    hex((seq << 2 & 0xff) | (byte(r + 4) & 0x03)) +
    hex(byte(r + 5)) + hex(byte(r + 6)) + hex(byte(r + 7)) + hex(byte(r + 8)) + hex(byte(r + 9))
}

const byte = (i: number): number => pool[i] as number
const hex = (b: number): string => HEX[b] as string

let isoMs = -1
let iso = ''

/** The current time as ISO-8601 UTC, formatted once per millisecond however many messages share it. */
export function isoNow (now = Date.now()): string {
  if (now !== isoMs) {
    isoMs = now
    iso = new Date(now).toISOString()
  }
  return iso
}
