// Shared test helpers: build the app from a config object, listen on 127.0.0.1:0, connect real ws clients.
import { once } from 'node:events'
import { connect as tcpConnect } from 'node:net'
import { Writable } from 'node:stream'
import WebSocket from 'ws'
import type { Test } from 'tap'
import { buildApp, type App } from '../src/app.js'
import { defaultConfig, type Config } from '../src/config.js'

export type Overrides = Partial<Config>

/** Log lines written by the app under test, parsed. */
export class LogCapture extends Writable {
  readonly lines: Array<Record<string, unknown>> = []
  readonly raw: string[] = []
  override _write (chunk: Buffer, _encoding: string, callback: () => void): void {
    for (const line of chunk.toString().split('\n')) {
      if (line === '') continue
      this.raw.push(line)
      this.lines.push(JSON.parse(line) as Record<string, unknown>)
    }
    callback()
  }

  find (msg: string): Record<string, unknown> | undefined {
    return this.lines.find(line => line.msg === msg)
  }
}

export async function build (t: Test, overrides: Overrides = {}, logs?: LogCapture): Promise<App> {
  // No event-loop shedding unless a test asks for it: on a busy machine a starved test process can stall for
  // longer than the threshold and would answer unrelated POSTs 503.
  const app = await buildApp({ ...defaultConfig, shedEventLoopDelayMs: 0, ...overrides }, {
    logger: logs === undefined ? false : { level: 'debug', stream: logs }
  })
  t.teardown(() => app.close())
  return app
}

export interface Server { app: App, url: string, wsUrl: string }

/** A real server on 127.0.0.1 and a free port, closed when the test ends. */
export async function listen (t: Test, overrides: Overrides = {}, logs?: LogCapture): Promise<Server> {
  const app = await build(t, overrides, logs)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  return { app, url: `http://127.0.0.1:${port}`, wsUrl: `ws://127.0.0.1:${port}` }
}

/** A real ws client that resolves on `open` and keeps every frame it receives. */
export class Client {
  readonly frames: string[] = []
  readonly #waiters: Array<() => void> = []
  closed: Promise<{ code: number, reason: string }>

  constructor (readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      this.frames.push(data.toString())
      for (const wake of this.#waiters.splice(0)) wake()
    })
    this.closed = once(ws, 'close').then(args => {
      const [code, reason] = args as [number, Buffer]
      return { code, reason: reason.toString() }
    })
  }

  /** Resolves once `count` frames in all have arrived. */
  async waitFor (count: number): Promise<string[]> {
    while (this.frames.length < count) {
      await new Promise<void>(resolve => this.#waiters.push(resolve))
    }
    return this.frames
  }

  #read = 0

  /** The next frame not yet returned by next(), waiting for it if needed. */
  async next (): Promise<string> {
    const frames = await this.waitFor(this.#read + 1)
    return frames[this.#read++] as string
  }

  async nextJson (): Promise<Record<string, unknown>> {
    return JSON.parse(await this.next()) as Record<string, unknown>
  }
}

export async function connect (t: Test, server: Server, path: string, options: WebSocket.ClientOptions = {}, protocols: string[] = []): Promise<Client> {
  const ws = new WebSocket(server.wsUrl + path, protocols, options)
  const client = new Client(ws)
  t.teardown(() => ws.terminate())
  await once(ws, 'open')
  return client
}

/**
 * Opens a WebSocket that the server is expected to refuse, and resolves with the HTTP status once the server
 * has also closed the socket (a refused upgrade must not leave the connection hanging).
 */
export async function refusedUpgrade (server: Server, path: string, options: WebSocket.ClientOptions = {}): Promise<{ status: number, body: Record<string, unknown> }> {
  const ws = new WebSocket(server.wsUrl + path, options)
  return await new Promise((resolve, reject) => {
    ws.on('open', () => { ws.terminate(); reject(new Error('upgrade unexpectedly accepted')) })
    ws.on('error', () => {})
    ws.on('unexpected-response', (_req, res) => {
      let body = ''
      const timer = setTimeout(() => reject(new Error(`server left the refused upgrade of ${path} open`)), 5000)
      res.on('data', (chunk: Buffer) => { body += chunk.toString() })
      res.socket.on('close', () => {
        clearTimeout(timer)
        resolve({ status: res.statusCode as number, body: JSON.parse(body) as Record<string, unknown> })
      })
    })
  })
}

/**
 * Waits for what another event-loop turn, process or node makes true and no event announces to the test (a server-side
 * close, a log line, Redis coming back), checking `condition` every `intervalMs`. It gives up after `timeoutMs`, even
 * on a condition that itself never settles (a fetch nobody answers), and fails naming what it waited for: a wait that
 * never ends must be a clear failure, not tap's timeout of the whole file.
 */
export async function until (condition: () => boolean | Promise<boolean>, what: string, { intervalMs = 10, timeoutMs = 10_000 } = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (let left = timeoutMs; left > 0; left = deadline - Date.now()) {
    let timer: NodeJS.Timeout | undefined
    try {
      if (await Promise.race([condition(), new Promise<false>(resolve => { timer = setTimeout(resolve, left, false) })])) return
    } finally {
      clearTimeout(timer)
    }
    await new Promise(resolve => setTimeout(resolve, Math.min(intervalMs, deadline - Date.now())))
  }
  throw new Error(`gave up after ${timeoutMs} ms waiting until ${what}`)
}

export async function post (server: Server, path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number, body: Record<string, unknown>, headers: Headers }> {
  const res = await fetch(server.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body)
  })
  return { status: res.status, body: await res.json() as Record<string, unknown>, headers: res.headers }
}

/**
 * Writes raw bytes to the server over a fresh TCP connection and resolves with everything it answered once the
 * server closes the connection (the client never hangs up): for requests fetch() and ws will not send as they are.
 */
export async function rawExchange (t: Test, server: Server, request: string): Promise<string> {
  const { port } = new URL(server.url)
  const socket = tcpConnect(Number(port), '127.0.0.1')
  t.teardown(() => socket.destroy())
  let answer = ''
  socket.on('data', (chunk: Buffer) => { answer += chunk.toString() })
  socket.write(request)
  await once(socket, 'close')
  return answer
}
