// Starts a real redis-server (Debian's binary) on a free loopback port, for the cluster tests.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import type { Test } from 'tap'

/** Why the cluster tests cannot run here, or null when they can. */
export const redisMissing: string | false = spawnSync('redis-server', ['--version']).error === undefined
  ? false
  : 'redis-server is not installed (apt-get install -y redis-server); cluster tests skipped'

/** The lowest port the kernel hands out as the source port of an outgoing connection. */
export function ephemeralPortsFrom (): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0])
  } catch {
    return 32768 // Linux's default, for a machine without /proc
  }
}

/**
 * A free port below the ephemeral range (in its upper half, away from well-known ports): no outgoing connection is
 * ever given one as its source port, so a server killed and restarted on it (the Redis restart tests) does not find
 * it taken by a parallel test's client. Port 0 would hand out an ephemeral port, and that happened: "bind: Address
 * already in use" on a restart.
 */
export async function freePort (): Promise<number> {
  const below = ephemeralPortsFrom()
  for (;;) {
    const port = Math.floor(below / 2 + Math.random() * below / 2)
    const server = createServer().listen(port, '127.0.0.1')
    const bound = await new Promise<boolean>(resolve => {
      server.once('listening', () => resolve(true))
      server.once('error', () => resolve(false))
    })
    if (bound) {
      await new Promise(resolve => server.close(resolve))
      return port
    }
  }
}

export class RedisServer {
  #process: ChildProcess | undefined

  private constructor (readonly port: number, private readonly args: string[]) {}

  get url (): string { return `redis://127.0.0.1:${this.port}` }

  /** `args` are added to redis-server's command line, e.g. ['--requirepass', 'pw']. */
  static async start (t: Test, args: string[] = []): Promise<RedisServer> {
    const server = new RedisServer(await freePort(), args)
    await server.restart()
    t.teardown(() => server.kill())
    return server
  }

  /** (Re)starts the server on the same port, empty, as after a crash with persistence off; `args` replace start()'s. */
  async restart (args = this.args): Promise<void> {
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
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

  /** SIGSTOP: the server keeps its connections open but answers nothing, as in a long stall or a frozen host. */
  pause (): void { this.#process?.kill('SIGSTOP') }

  /** SIGCONT after pause(): it reads and runs everything sent to it meanwhile. */
  resume (): void { this.#process?.kill('SIGCONT') }

  /** SIGKILL: the server vanishes mid-whatever, as in a crash. */
  async kill (): Promise<void> {
    const child = this.#process
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit')
    child.kill('SIGKILL')
    await exited
  }
}
