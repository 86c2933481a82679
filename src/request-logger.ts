// Request loggers made on first use. Fastify gives every request a pino child bound to its reqId, and making one
// (bindings serialized to JSON, a new logger object) was about 1.7 µs of every send in a profile, though a send that
// is delivered never logs. This stands in for the child and makes it only when the request logs something.
import type { FastifyBaseLogger } from 'fastify'

type Bindings = Parameters<FastifyBaseLogger['child']>[0]
type ChildOptions = Parameters<FastifyBaseLogger['child']>[1]
type Method = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'

export class LazyChildLogger implements FastifyBaseLogger {
  #made: FastifyBaseLogger | undefined

  constructor (
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private readonly options: ChildOptions
  ) {}

  /** The real child logger, made the first time anything asks for it. */
  #child (): FastifyBaseLogger {
    return (this.#made ??= this.parent.child(this.bindings, this.options))
  }

  #log (method: Method, args: unknown[]): void {
    const child = this.#child()
    ;(child[method] as (...args: unknown[]) => void).apply(child, args)
  }

  get level (): string { return this.#child().level }
  set level (level: string) { this.#child().level = level }

  fatal (...args: unknown[]): void { this.#log('fatal', args) }
  error (...args: unknown[]): void { this.#log('error', args) }
  warn (...args: unknown[]): void { this.#log('warn', args) }
  info (...args: unknown[]): void { this.#log('info', args) }
  debug (...args: unknown[]): void { this.#log('debug', args) }
  trace (...args: unknown[]): void { this.#log('trace', args) }
  silent (...args: unknown[]): void { this.#log('silent', args) }

  child (bindings: Bindings, options?: ChildOptions): FastifyBaseLogger {
    return this.#child().child(bindings, options)
  }
}

/** Fastify's `childLoggerFactory`. */
export function lazyChildLogger (logger: FastifyBaseLogger, bindings: Bindings, options: ChildOptions): FastifyBaseLogger {
  return new LazyChildLogger(logger, bindings, options)
}
