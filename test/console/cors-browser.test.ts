// CORS as Chromium enforces it: a page on another origin reads the answer to any method it sends.
import { once } from 'node:events'
import { createServer } from 'node:http'
import t from 'tap'
import { listen } from '../helper.js'
import { chromiumMissing, launch } from './browser.js'

const skip = chromiumMissing !== false && process.env.CI !== 'true' ? chromiumMissing : false
if (skip !== false) t.comment(skip)

t.test('a page on another origin reads the answer to any method, not a network error', { skip }, async t => {
  // Regression: the preflight allowed a fixed list without OPTIONS, so fetch() with OPTIONS, PURGE or PROPFIND
  // failed in the browser ("not allowed by Access-Control-Allow-Methods") though the README says every method passes.
  const server = await listen(t, { allowedOrigins: ['http://localhost:1'] })
  const page = createServer((request, response) => response.end('<!doctype html><title>page</title>'))
  page.listen(0, '127.0.0.1')
  await once(page, 'listening')
  t.teardown(() => page.close())
  const pageUrl = `http://localhost:${(page.address() as { port: number }).port}`
  const allowed = await listen(t, { allowedOrigins: [pageUrl] })
  const browser = await launch(t)
  const tab = await browser.newPage()
  await tab.goto(`${pageUrl}/`)
  const answers = await tab.evaluate(async (url) => {
    const out: Record<string, string> = {}
    for (const method of ['PUT', 'DELETE', 'OPTIONS', 'PURGE', 'PROPFIND']) {
      try {
        const res = await fetch(`${url}/send-message`, { method })
        out[method] = `${res.status} ${res.headers.get('allow') ?? ''}`.trim()
      } catch (err) {
        out[method] = String(err)
      }
    }
    return out
  }, allowed.url)
  t.same(answers, { PUT: '405 POST, OPTIONS', DELETE: '405 POST, OPTIONS', OPTIONS: '204', PURGE: '405 POST, OPTIONS', PROPFIND: '405 POST, OPTIONS' })
  // An origin not on the list still gets nothing it can read.
  const refused = await tab.evaluate(async (url) => await fetch(`${url}/send-message`, { method: 'PUT' }).then(res => String(res.status), err => String(err)), server.url)
  t.match(refused, /TypeError/)
})
