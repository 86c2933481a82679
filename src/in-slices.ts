// Loops over every connection cut into slices, with the event loop running in between: one pass over 10,000
// sockets (a ping each) held the event loop for about 200 ms, and every send arriving then waited for all of it.
import { setImmediate as nextTurn } from 'node:timers/promises'

/** Calls visit on each item, `size` at a time, letting pending I/O run between slices. */
export async function inSlices<T> (items: Iterator<T>, size: number, visit: (item: T) => void): Promise<void> {
  for (;;) {
    for (let i = 0; i < size; i++) {
      const next = items.next()
      if (next.done === true) return
      visit(next.value)
    }
    await nextTurn()
  }
}
