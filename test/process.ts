// Runs src/server.ts as a real child process, with the same TypeScript loader (and coverage) as the test.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

const serverEntry = fileURLToPath(new URL('../src/server.ts', import.meta.url))

export interface ServerProcess {
  child: ChildProcess
  url: string
  wsUrl: string
  stdout: () => string
  exited: Promise<number | null>
}

// Children still running when the test process exits (a test that timed out before its teardown could kill
// them) are killed then, so no server outlives its test file.
const live = new Set<ChildProcess>()
process.once('exit', () => { for (const child of live) child.kill('SIGKILL') })

export function spawnServer (env: Record<string, string>): { child: ChildProcess, stdout: () => string, stderr: () => string, exited: Promise<number | null> } {
  const child = spawn(process.execPath, [...process.execArgv, serverEntry], {
    env: { ...process.env, NODE_ENV: 'test', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  let err = ''
  child.stdout?.on('data', (chunk: Buffer) => { out += chunk.toString() })
  child.stderr?.on('data', (chunk: Buffer) => { err += chunk.toString() })
  live.add(child)
  // 'close', not 'exit': the last lines a process writes can still be on their way through the pipe at 'exit'.
  const exited = once(child, 'close').then(([code]) => {
    live.delete(child)
    return code as number | null
  })
  return { child, stdout: () => out, stderr: () => err, exited }
}

/** Starts the server (on a free port unless env says otherwise) and resolves once it logs where it listens. */
export async function startServer (env: Record<string, string> = {}, spawned: ChildProcess[] = []): Promise<ServerProcess> {
  const proc = spawnServer({ PORT: '0', HOST: '127.0.0.1', ...env })
  // Known to the caller at once, so its teardown can kill it even if the test fails before it listens.
  spawned.push(proc.child)
  const address = await new Promise<string>((resolve, reject) => {
    const onData = (): void => {
      const match = /"msg":"Server listening at (http:\/\/[^"]+)"/.exec(proc.stdout())
      if (match !== null) {
        proc.child.stdout?.off('data', onData)
        resolve(match[1] as string)
      }
    }
    proc.child.stdout?.on('data', onData)
    proc.exited.then(code => reject(new Error(`server exited with ${String(code)}: ${proc.stderr()}`)), reject)
  })
  return { child: proc.child, url: address, wsUrl: address.replace('http', 'ws'), stdout: proc.stdout, exited: proc.exited }
}
