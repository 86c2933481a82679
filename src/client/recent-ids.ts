// A bounded memory of message ids seen, so a message delivered twice across a reconnect is shown once.

export class RecentIds {
  /** Insertion-ordered, so the first id is always the oldest. */
  readonly #seen = new Set<string>()

  constructor (readonly capacity: number) {}

  /** True the first time an id is offered; false for a repeat still remembered. A capacity of 0 remembers nothing. */
  add (id: string): boolean {
    if (this.#seen.has(id)) return false
    this.#seen.add(id)
    if (this.#seen.size > this.capacity) this.#seen.delete(this.#seen.values().next().value as string)
    return true
  }
}
