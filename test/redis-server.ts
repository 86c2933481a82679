// Starts a real redis-server (Debian's binary) on a free loopback port, for the cluster tests.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import type { Test } from 'tap'

/** Why the cluster tests cannot run here, or null when they can. */
export const redisMissing: string | false = spawnSync('redis-server', ['--version']).error === undefined
  ? false
  : 'redis-server is not installed (apt-get install -y redis-server); cluster tests skipped'

/** A port nothing listens on right now (bound, read, released). */
export async function freePort (): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  return port
}

export class RedisServer {
  #process: ChildProcess | undefined

  private constructor (readonly port: number) {}

  get url (): string { return `redis://127.0.0.1:${this.port}` }

  static async start (t: Test): Promise<RedisServer> {
    const server = new RedisServer(await freePort())
    await server.restart()
    t.teardown(() => server.kill())
    return server
  }

  /** (Re)starts the server on the same port, empty, as after a crash with persistence off. */
  async restart (): Promise<void> {
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'inherit'] })
    this.#process = child
    let out = ''
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString()
        if (out.includes('Ready to accept connections')) resolve()
      })
      child.once('exit', code => reject(new Error(`redis-server exited with ${String(code)}: ${out}`)))
    })
  }

  /** SIGKILL: the server vanishes mid-whatever, as in a crash. */
  async kill (): Promise<void> {
    const child = this.#process
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit')
    child.kill('SIGKILL')
    await exited
  }
}
