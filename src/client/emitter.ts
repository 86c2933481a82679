// A small typed event emitter that runs the same in browsers and Node, with no dependency.

type Listener<T> = (value: T) => void

export class Emitter<Events> {
  readonly #listeners = new Map<keyof Events, Set<Listener<never>>>()

  /** Adds a listener; returns the function that removes it. */
  on<K extends keyof Events> (event: K, listener: Listener<Events[K]>): () => void {
    let set = this.#listeners.get(event)
    if (set === undefined) this.#listeners.set(event, set = new Set())
    set.add(listener as Listener<never>)
    return () => this.off(event, listener)
  }

  off<K extends keyof Events> (event: K, listener: Listener<Events[K]>): void {
    this.#listeners.get(event)?.delete(listener as Listener<never>)
  }

  /**
   * Calls every listener, each on its own: a listener that throws must not stop the others, nor the caller (the
   * client's reconnect loop emits from the middle of its work). Its error is rethrown from a microtask, so it still
   * shows as uncaught (a page error, Node's uncaughtException), the way EventTarget reports a throwing listener.
   */
  protected emit<K extends keyof Events> (event: K, value: Events[K]): void {
    const set = this.#listeners.get(event)
    if (set === undefined) return
    for (const listener of [...set]) {
      try {
        (listener as Listener<Events[K]>)(value)
      } catch (err) {
        queueMicrotask(() => { throw err })
      }
    }
  }
}
