// The console page in real headless Chromium: two users exchanging messages, HTML shown as text, a server killed and
// restarted under a live page, and auth mode. The page is the real browser build, made here by `npm run build`.
import { execFileSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync } from 'node:fs'
import { createServer } from 'node:http'
import { dirname, join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import t from 'tap'
import { ReceiverTokens } from '../../src/auth.js'
import { CLOSE } from '../../src/close-codes.js'
import { listen, post, until, type Server } from '../helper.js'
import { freezingProxy } from '../client/freezing-proxy.js'
import { startServer } from '../process.js'
import { freePort } from '../redis-server.js'
import { chromiumMissing, launch } from './browser.js'

const skip = chromiumMissing !== false && process.env.CI !== 'true' ? chromiumMissing : false
if (skip !== false) t.comment(skip)
// A full build and a browser: more than the default per-file timeout on a busy machine.
t.setTimeout(240_000)
const SCREENSHOT = process.env.PUSHWIRE_SCREENSHOT ?? join('.tap', 'console.png')

interface Console { page: Page, errors: string[], foreign: string[] }

/** Opens the console as a user and connects; records page errors and any request that leaves the page's origin. */
async function openConsole (browser: Browser, server: Pick<Server, 'url'>, userId: string, topics = '', token = ''): Promise<Console> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } })
  const errors: string[] = []
  const foreign: string[] = []
  const origin = new URL(server.url)
  page.on('pageerror', error => errors.push(error.message))
  page.on('request', request => { if (new URL(request.url()).host !== origin.host) foreign.push(request.url()) })
  page.on('websocket', socket => { if (new URL(socket.url()).host !== origin.host) foreign.push(socket.url()) })
  await page.goto(`${server.url}/`)
  await page.fill('#user-id', userId)
  await page.fill('#topics', topics)
  if (token !== '') await page.fill('#token', token)
  await page.click('#connect')
  return { page, errors, foreign }
}

const state = (page: Page, name: string) => page.locator(`#status[data-state="${name}"]`).waitFor()

async function send (page: Page, mode: 'direct' | 'topic' | 'broadcast', target: string, text: string): Promise<string> {
  await page.check(`input[name="mode"][value="${mode}"]`)
  if (mode !== 'broadcast') await page.fill('#target', target)
  await page.fill('#message', text)
  await page.$eval('#send-result', element => { element.textContent = '' })
  await page.click('#send-form button[type="submit"]')
  const result = page.locator('#send-result', { hasText: / · id |^\d{3}: / })
  await result.waitFor()
  return await result.innerText()
}

const feedItem = (page: Page, text: string) => page.locator('#feed li', { hasText: text })

t.before(() => {
  if (skip !== false) return
  execFileSync('npm', ['run', 'build'], { stdio: 'ignore' })
})

t.test('the package exports the client build as pushwire/client', { skip }, async t => {
  const client = await import('pushwire/client' as string) as Record<string, unknown>
  t.type(client.connect, 'function')
  t.type(client.PushwireClient, 'function')
})

t.test('two users exchange direct, topic and broadcast messages', { skip }, async t => {
  const server = await listen(t)
  const browser = await launch(t)
  const alice = await openConsole(browser, server, 'alice', 'news')
  const bob = await openConsole(browser, server, 'bob', 'news, sport')
  await Promise.all([state(alice.page, 'open'), state(bob.page, 'open')])

  t.match(await send(bob.page, 'direct', 'alice', 'hi alice, from bob'), /^sent · id [0-9a-f-]{36}$/)
  await feedItem(alice.page, 'hi alice, from bob').waitFor()
  t.match(await feedItem(alice.page, 'hi alice, from bob').innerText(), /bob → alice/)

  t.match(await send(alice.page, 'topic', 'news', 'news for everyone on #news'), /^sent/)
  for (const { page } of [alice, bob]) {
    await feedItem(page, 'news for everyone on #news').waitFor()
    t.match(await feedItem(page, 'news for everyone on #news').innerText(), /alice → #news/)
  }
  t.match(await send(bob.page, 'topic', 'sport', 'sport, bob only'), /^sent/)
  t.match(await send(bob.page, 'broadcast', '', 'to all'), /^sent/)
  for (const { page } of [alice, bob]) await feedItem(page, 'to all').waitFor()
  t.equal(await feedItem(alice.page, 'sport, bob only').count(), 0, 'alice is not on #sport')
  t.match(await alice.page.locator('#feed li').first().innerText(), /to all/, 'newest first')

  await bob.page.fill('#presence-user', 'alice')
  await bob.page.click('#presence-form button')
  await bob.page.locator('#presence-result', { hasText: 'alice is online (1 connection)' }).waitFor()
  await bob.page.fill('#presence-user', 'carol')
  await bob.page.click('#presence-form button')
  await bob.page.locator('#presence-result', { hasText: 'carol is offline' }).waitFor()

  await alice.page.fill('#presence-user', 'bob')
  await alice.page.click('#presence-form button')
  await alice.page.locator('#presence-result', { hasText: 'bob is online (1 connection)' }).waitFor()
  mkdirSync(dirname(SCREENSHOT), { recursive: true })
  await alice.page.screenshot({ path: SCREENSHOT, fullPage: true })

  t.match(await send(alice.page, 'direct', 'nobody', 'hello?'), /^offline · id /)
  t.match(await send(alice.page, 'direct', 'bad id!', 'x'), /^400: body\/receiver/)
  t.same([...alice.errors, ...bob.errors], [], 'no page errors')
  t.same([...alice.foreign, ...bob.foreign], [], 'the page only talks to its own origin')
})

t.test('a message holding HTML is shown as text, and nothing runs', { skip }, async t => {
  const server = await listen(t)
  const browser = await launch(t)
  const { page } = await openConsole(browser, server, 'alice')
  await state(page, 'open')
  const evil = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script><b>bold?</b>'
  t.equal((await post(server, '/send-message', { sender: '<i>eve</i>', receiver: 'alice', message: evil })).status, 400, 'sender ids cannot hold HTML')
  await post(server, '/send-message', { sender: 'eve', receiver: 'alice', message: evil })
  await feedItem(page, 'bold?').waitFor()
  t.equal(await page.locator('#feed li .text').first().innerText(), evil)
  t.equal(await page.locator('#feed img, #feed script, #feed b').count(), 0, 'no element was created from the text')
  t.equal(await page.evaluate(() => (globalThis as { pwned?: number }).pwned), undefined)
})

t.test('killing and restarting the server: the page shows reconnecting, then open, and the next message arrives', { skip }, async t => {
  const port = await freePort()
  const env = { PORT: String(port), HOST: '127.0.0.1' }
  const spawned: ChildProcess[] = []
  t.teardown(() => { for (const child of spawned) child.kill('SIGKILL') })
  let proc = await startServer(env, spawned)
  const { url } = proc
  const browser = await launch(t)
  const { page } = await openConsole(browser, { url }, 'alice')
  await state(page, 'open')

  proc.child.kill('SIGKILL')
  await proc.exited
  await state(page, 'reconnecting')
  t.match(await page.locator('#status-text').innerText(), /^reconnecting in \d+ s$/)

  proc = await startServer(env, spawned)
  await state(page, 'open')
  await post({ url } as Server, '/send-message', { sender: 'bob', receiver: 'alice', message: 'after the restart' })
  await feedItem(page, 'after the restart').waitFor()
  proc.child.kill('SIGTERM')
  t.equal(await proc.exited, 0)
})

t.test('auth mode: the token and API key fields appear, a missing token stops with the reason, a good one connects', { skip }, async t => {
  const KEY = 'publisher-key-0123456789abcdef'
  const SECRET = 'receiver-token-secret-0123456789abcdef'
  const server = await listen(t, { apiKeys: [KEY], jwtSecret: SECRET })
  const browser = await launch(t)
  const refused = await openConsole(browser, server, 'alice')
  t.ok(await refused.page.locator('#token').isVisible())
  t.ok(await refused.page.locator('#api-key').isVisible())
  await state(refused.page, 'closed')
  t.match(await refused.page.locator('#status-text').innerText(), /stopped: upgrade refused with HTTP 401 \(a receiver token is required.*\): a fresh token is needed/)

  const { token } = await new ReceiverTokens(SECRET).mint('alice', undefined, 60)
  const { page } = await openConsole(browser, server, 'alice', '', token)
  await state(page, 'open')
  t.match(await send(page, 'direct', 'alice', 'no key'), /^401: an API key is required/)
  await page.fill('#api-key', KEY)
  t.match(await send(page, 'direct', 'alice', 'with a key'), /^sent/)
  await feedItem(page, 'with a key').waitFor()
  // Presence is for publishers too: the page sends the same key with it.
  await page.fill('#presence-user', 'alice')
  await page.click('#presence-form button')
  await page.locator('#presence-result', { hasText: 'alice is online (1 connection)' }).waitFor()
  await page.fill('#api-key', '')
  await page.click('#presence-form button')
  await page.locator('#presence-result', { hasText: '401: an API key is required' }).waitFor()
  await page.click('#disconnect')
  await state(page, 'closed')
})

t.test('another site\'s page imports the client straight from the service and receives', { skip }, async t => {
  const server = await listen(t)
  const browser = await launch(t)
  // Another site: a different origin (another port) serving a page of its own.
  const site = createServer((_request, response) => { response.setHeader('content-type', 'text/html'); response.end('<!doctype html><title>another site</title>') })
  site.listen(0, '127.0.0.1')
  await once(site, 'listening')
  t.teardown(() => site.close())
  const page = await browser.newPage()
  await page.goto(`http://127.0.0.1:${(site.address() as { port: number }).port}/`)
  const received = page.evaluate(async (url) => {
    const { connect } = await import(`${url}/assets/client/index.js`) as typeof import('../../src/client/index.js')
    const client = connect({ url, userId: 'erin' })
    return await new Promise<string>(resolve => {
      client.on('open', () => { fetch(`${url}/send-message`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sender: 'x', receiver: 'erin', message: 'cross-origin' }) }).catch(() => {}) })
      client.on('message', frame => { resolve(frame.message); client.close() })
    })
  }, server.url)
  t.equal(await received, 'cross-origin')
})

t.test('keyboard and labels: every field is labelled, and Enter connects', { skip }, async t => {
  const server = await listen(t)
  const browser = await launch(t)
  const page = await browser.newPage()
  await page.goto(`${server.url}/`)
  t.same(await page.$$eval('input:not([type=radio]):not([hidden]), textarea', fields =>
    fields.filter(field => (field as unknown as { labels: { length: number } }).labels.length !== 1).map(field => field.id)), [], 'one label per field')
  t.equal(await page.locator('#token').isVisible(), false, 'no token field when auth is off')
  // The browser checks user ids with the server's pattern (it drops a pattern it cannot compile, so this would pass).
  const valid = async (value: string) => await page.$eval('#user-id', (field, value) => {
    const input = field as unknown as { value: string, checkValidity: () => boolean }
    input.value = value
    return input.checkValidity()
  }, value)
  t.same([await valid('bad id!'), await valid('a-b.c@d:e_f')], [false, true], 'the pattern attribute is in force')
  await page.focus('#user-id')
  await page.keyboard.press('Control+A')
  await page.keyboard.type('dave')
  await page.keyboard.press('Enter')
  await state(page, 'open')
  t.equal((await post(server, '/send-message', { sender: 'x', receiver: 'dave', message: 'typed' })).body.status, 'sent')
})

t.test('the message limit counts characters the way the server does: 1000 emoji fit, 1001 are refused before sending', { skip }, async t => {
  const server = await listen(t)
  const browser = await launch(t)
  const { page, errors } = await openConsole(browser, server, 'alice')
  await state(page, 'open')
  const posts: string[] = []
  page.on('request', request => { if (request.method() === 'POST') posts.push(request.url()) })
  const party = '🎉'.repeat(1000) // 1000 code points, 2000 UTF-16 units
  t.match(await send(page, 'direct', 'alice', party), /^sent/)
  await page.locator('#feed li').first().waitFor()
  t.equal(await page.locator('#feed li .text').first().innerText(), party, 'all 1000 arrived, none cut off')

  await page.fill('#message', `${party}🎉`)
  await page.click('#send-form button[type="submit"]')
  await page.locator('#send-result', { hasText: 'The message is 1001 characters long; the limit is 1000.' }).waitFor()
  t.equal(await page.locator('#send-result').getAttribute('class'), 'result bad')
  const pasted = '🎉'.repeat(1500)
  await page.fill('#message', pasted)
  t.equal(await page.inputValue('#message'), pasted, 'a long paste is kept whole: nothing is cut silently')
  await page.click('#send-form button[type="submit"]')
  await page.locator('#send-result', { hasText: 'The message is 1500 characters long' }).waitFor()
  await page.fill('#message', party)
  t.match(await send(page, 'direct', 'alice', party), /^sent/, 'back under the limit, it sends')
  t.equal(posts.length, 2, 'the over-long message was never posted')
  t.same(errors, [])
})

t.test('the focus ring has 3:1 contrast or more against the card and the page (WCAG 1.4.11)', { skip }, async t => {
  const server = await listen(t)
  const browser = await launch(t)
  const page = await browser.newPage()
  await page.goto(`${server.url}/`)
  await page.keyboard.press('Tab')
  const colours = await page.evaluate(() => {
    // The DOM types are not in this (Node) project: just what is used here.
    interface Element { id: string, closest: (selector: string) => Element }
    const { document, getComputedStyle } = globalThis as unknown as {
      document: { activeElement: Element, documentElement: Element }
      getComputedStyle: (element: Element) => Record<'outlineStyle' | 'outlineWidth' | 'outlineColor' | 'backgroundColor', string>
    }
    const focused = document.activeElement
    const style = getComputedStyle(focused)
    return {
      id: focused.id,
      outline: `${style.outlineStyle} ${style.outlineWidth}`,
      ring: style.outlineColor,
      card: getComputedStyle(focused.closest('.card')).backgroundColor,
      page: getComputedStyle(document.documentElement).backgroundColor
    }
  })
  t.same([colours.id, colours.outline], ['user-id', 'solid 3px'], 'the keyboard focus shows the ring')
  for (const background of [colours.card, colours.page]) {
    const ratio = contrast(colours.ring, background)
    t.ok(ratio >= 3, `${colours.ring} on ${background}: ${ratio.toFixed(2)}:1`)
  }
})

/** The WCAG contrast ratio of two rgb() colours. */
function contrast (a: string, b: string): number {
  const luminance = (colour: string): number => {
    const [r, g, b] = (colour.match(/\d+/g) ?? []).slice(0, 3).map(Number).map(c => {
      const s = c / 255
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4
    }) as [number, number, number]
    return 0.2126 * r + 0.7152 * g + 0.0722 * b
  }
  const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number]
  return (light + 0.05) / (dark + 0.05)
}

t.test('in the browser, a close listener that throws shows as a page error and the client still reconnects', { skip }, async t => {
  const server = await listen(t)
  const browser = await launch(t)
  const page = await browser.newPage()
  const errors: string[] = []
  page.on('pageerror', error => errors.push(error.message))
  await page.goto(`${server.url}/`)
  const states = page.evaluate(async (url) => {
    const { connect } = await import(`${url}/assets/client/index.js`) as typeof import('../../src/client/index.js')
    const client = connect({ url, userId: 'frank', initialDelayMs: 20 })
    const seen: string[] = []
    client.on('close', ({ willReconnect }) => {
      seen.push(client.state)
      if (willReconnect) throw new Error('oops in a close listener')
    })
    let opens = 0
    await new Promise<void>(resolve => client.on('open', () => { if (++opens === 2) resolve() }))
    const closed = new Promise<void>(resolve => client.on('close', ({ willReconnect }) => { if (!willReconnect) resolve() }))
    client.close()
    await closed
    return seen
  }, server.url)
  await until(() => server.app.connections.connectionCount > 0, 'the page\'s client has connected')
  for (const connection of [...server.app.connections.connections()]) server.app.connections.close(connection, CLOSE.slowConsumer)
  t.same(await states, ['reconnecting', 'closed'], 'reconnected; the state was reconnecting when the close event said so')
  t.same(errors, ['oops in a close listener'], 'reported as a page error')
})

t.test('in the browser, which hides pings, a connection frozen without FIN or RST is noticed by its heartbeat frames', { skip }, async t => {
  const server = await listen(t, { heartbeatIntervalMs: 500 })
  // Only the WebSocket goes through the proxy: the page and the client build come straight from the server. Not the
  // console's page, whose CSP allows no other origin, so not the proxy's port either.
  const relay = await freezingProxy(t, server.url)
  const browser = await launch(t)
  const page = await browser.newPage()
  await page.goto(`${server.url}/health`)
  await page.evaluate(async ({ url, relayUrl }) => {
    const { connect } = await import(`${url}/assets/client/index.js`) as typeof import('../../src/client/index.js')
    const client = connect({ url: relayUrl, userId: 'grace', initialDelayMs: 20 })
    const events: unknown[] = []
    Object.assign(globalThis, { events })
    for (const name of ['open', 'close', 'message'] as const) client.on(name, value => events.push([name, value]))
  }, { url: server.url, relayUrl: relay.url })
  const opens = async (n: number): Promise<void> => {
    await page.waitForFunction(n => (globalThis as unknown as { events: string[][] }).events.filter(([name]) => name === 'open').length === n, n, { timeout: 20_000 })
  }
  await opens(1)
  await relay.pings(3)
  relay.freeze()
  await opens(2)
  const events = await page.evaluate(() => (globalThis as unknown as { events: unknown[] }).events)
  t.same(events, [
    ['open', { attempt: 0 }],
    ['close', { code: 1006, reason: 'no heartbeat from the server within 6000 ms', willReconnect: true }],
    ['open', { attempt: 1 }]
  ], 'no heartbeat frame became a message; the frozen connection was replaced')
  t.equal(server.app.connections.connectionCount, 1)
})
