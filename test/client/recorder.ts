// Records a pushwire client's events in order and waits on them, so tests wait on events, never on sleeps; and
// collects the errors of listeners that throw.
import type { Test } from 'tap'
import { connect, type ClientEvents, type ConnectOptions, type PushwireClient } from '../../src/client/index.js'

type Name = keyof ClientEvents<unknown>
const NAMES: Name[] = ['open', 'message', 'close', 'reconnecting', 'error']

export interface Recorded<M> {
  readonly log: Array<[Name, unknown]>
  /** Resolves with the nth (1-based) event of that name, waiting for it if needed. */
  nth: <K extends Name>(name: K, n: number) => Promise<ClientEvents<M>[K]>
  count: (name: Name) => number
  names: () => string[]
}

export function record<M> (client: PushwireClient<M>): Recorded<M> {
  const log: Array<[Name, unknown]> = []
  let wake: Array<() => void> = []
  for (const name of NAMES) {
    client.on(name, (value: unknown) => {
      log.push([name, value])
      const waiting = wake
      wake = []
      for (const resolve of waiting) resolve()
    })
  }
  const of = (name: Name) => log.filter(([n]) => n === name).map(([, value]) => value)
  return {
    log,
    async nth (name, n) {
      while (of(name).length < n) await new Promise<void>(resolve => wake.push(resolve))
      return of(name)[n - 1] as never
    },
    count: name => of(name).length,
    names: () => log.map(([name]) => name)
  }
}

/** Collects what reaches uncaughtException while the test runs: a listener's throw must still be reported there. */
export function uncaught (t: Test): Error[] {
  const errors: Error[] = []
  const capture = (err: Error): void => { errors.push(err) }
  process.on('uncaughtException', capture)
  t.teardown(() => { process.off('uncaughtException', capture) })
  return errors
}

/** Short backoff, so that reconnecting tests take milliseconds. */
export const fast = { initialDelayMs: 20, maxDelayMs: 100 }

/** A client for user alice with a short backoff, closed when the test ends, and its events recorded. */
export function start<F extends 'json' | 'text' = 'json'> (t: Test, url: string, options: Partial<ConnectOptions<F>> = {}) {
  const client = connect({ url, userId: 'alice', ...fast, ...options } as ConnectOptions<'json'>)
  t.teardown(() => client.close())
  return { client, events: record(client) }
}
