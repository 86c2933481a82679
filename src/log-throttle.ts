// A line per event would write thousands a second just when a node is flooded: overloaded, or hammered by a client
// retrying a bad key, or scanned.
import type { FastifyInstance } from 'fastify'

interface Throttle<Fields> { pending: (Fields & { refused: number }) | null, timer: NodeJS.Timeout | undefined }

/**
 * Calls `write` for the first event of a kind at once; later ones of that kind are counted and written once a second,
 * each time with the latest event's fields and `refused`, the count since the last line, until a second passes with
 * none. Each kind has a count of its own, so a flood of one does not hide the others.
 */
export function throttled<Fields extends object> (app: FastifyInstance, write: (fields: Fields & { refused: number }) => void): (kind: number | string, fields: Fields) => void {
  const throttles = new Map<number | string, Throttle<Fields>>()
  const flush = (kind: number | string, throttle: Throttle<Fields>): void => {
    if (throttle.pending === null) {
      throttles.delete(kind)
      return
    }
    write(throttle.pending)
    throttle.pending = null
    throttle.timer = setTimeout(flush, 1000, kind, throttle).unref()
  }
  // What is still counted is written at shutdown: the last one's id may be the one a client quotes.
  app.addHook('onClose', async () => {
    for (const throttle of throttles.values()) {
      clearTimeout(throttle.timer)
      if (throttle.pending !== null) write(throttle.pending)
    }
  })
  return (kind, fields) => {
    const throttle = throttles.get(kind)
    if (throttle === undefined) {
      const first = { pending: { ...fields, refused: 1 }, timer: undefined }
      throttles.set(kind, first)
      flush(kind, first)
      return
    }
    throttle.pending = { ...fields, refused: (throttle.pending?.refused ?? 0) + 1 }
  }
}
