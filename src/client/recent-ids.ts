// A bounded memory of message ids seen, so a message delivered twice across a reconnect is shown once.

export class RecentIds {
  readonly #seen = new Set<string>()
  readonly #order: string[] = []
  #next = 0

  constructor (readonly capacity: number) {}

  /** True the first time an id is offered; false for a repeat still remembered. */
  add (id: string): boolean {
    if (this.#seen.has(id)) return false
    if (this.#order.length < this.capacity) {
      this.#order.push(id)
    } else {
      this.#seen.delete(this.#order[this.#next] as string)
      this.#order[this.#next] = id
      this.#next = (this.#next + 1) % this.capacity
    }
    this.#seen.add(id)
    return true
  }
}
