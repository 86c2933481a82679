// A page on another origin can POST /send-message: the preflight passes and the answer is readable.
import t from 'tap'
import { listen } from '../helper.js'

const preflight = (url: string, origin: string) => fetch(`${url}/send-message`, {
  method: 'OPTIONS',
  headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' }
})

t.test('open by default: any origin passes the preflight', async t => {
  const server = await listen(t)
  const res = await preflight(server.url, 'https://page.example.com')
  t.equal(res.status, 204)
  t.equal(res.headers.get('access-control-allow-origin'), '*')
  t.match(res.headers.get('access-control-allow-methods'), 'POST')
  t.match(res.headers.get('access-control-allow-headers'), /content-type/i)
  const post = await fetch(`${server.url}/send-message`, {
    method: 'POST',
    headers: { origin: 'https://page.example.com', 'content-type': 'application/json' },
    body: JSON.stringify({ sender: 'a', receiver: 'b', message: 'hi' })
  })
  t.equal(post.headers.get('access-control-allow-origin'), '*')
})

t.test('a page that sends a method no route takes passes the preflight and reads the 405', async t => {
  // Regression: the preflight allowed GET and POST only, so a page's PUT was a network error instead of this answer.
  const server = await listen(t)
  const origin = 'https://page.example.com'
  const pre = await fetch(`${server.url}/send-message`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'PUT' } })
  t.match(pre.headers.get('access-control-allow-methods'), /\bPUT\b/)
  const put = await fetch(`${server.url}/send-message`, { method: 'PUT', headers: { origin } })
  t.same([put.status, put.headers.get('access-control-allow-origin'), put.headers.get('allow')], [405, '*', 'POST, OPTIONS'])
})

t.test('with ALLOWED_ORIGINS only the listed origins are allowed', async t => {
  const server = await listen(t, { allowedOrigins: ['https://app.example.com'] })
  const allowed = await preflight(server.url, 'https://app.example.com')
  t.equal(allowed.headers.get('access-control-allow-origin'), 'https://app.example.com')
  t.match(allowed.headers.get('vary'), /origin/i)
  const denied = await preflight(server.url, 'https://evil.example.com')
  t.equal(denied.headers.get('access-control-allow-origin'), null)
})

t.test('a page on another origin can read the request id, Retry-After, the rate-limit headers, WWW-Authenticate and Allow', async t => {
  const server = await listen(t, { rateLimitPerMinute: 100 })
  const res = await fetch(`${server.url}/send-message`, {
    method: 'POST',
    headers: { origin: 'https://page.example.com', 'content-type': 'application/json' },
    body: JSON.stringify({ sender: 'a', receiver: 'b', message: 'hi' })
  })
  const exposed = (res.headers.get('access-control-expose-headers') ?? '').toLowerCase().split(/,\s*/)
  for (const name of ['x-request-id', 'retry-after', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'www-authenticate', 'allow']) {
    t.ok(exposed.includes(name), `${name} is exposed`)
    if (!['retry-after', 'www-authenticate', 'allow'].includes(name)) t.not(res.headers.get(name), null, `${name} is sent`)
  }
})

t.test('a URL the router cannot take still answers a page: its preflight passes and its 400 is readable', async t => {
  // Regression: a broken %-escape or an over-long path segment was answered before the CORS hook ran, so a page saw
  // a network error instead of the JSON that says what is wrong.
  const server = await listen(t, { allowedOrigins: ['https://app.example.com'] })
  for (const path of ['/presence/%ZZ', `/presence/${'a'.repeat(101)}`]) {
    const pre = await fetch(`${server.url}${path}`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' }
    })
    t.equal(pre.status, 204, `${path}: the preflight passes`)
    t.equal(pre.headers.get('access-control-allow-origin'), 'https://app.example.com')
    t.equal(pre.headers.get('access-control-allow-methods'), 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, *')
    t.equal(pre.headers.get('access-control-allow-headers'), 'Content-Type, Authorization, X-Request-Id')
    t.equal(pre.headers.get('access-control-max-age'), '600')
    t.match(pre.headers.get('vary'), /origin/i)
    t.not(pre.headers.get('x-request-id'), null)
    const res = await fetch(`${server.url}${path}`, { headers: { origin: 'https://app.example.com' } })
    t.equal(res.status, 400)
    t.equal(res.headers.get('access-control-allow-origin'), 'https://app.example.com', `${path}: the error is readable`)
    t.match(res.headers.get('access-control-expose-headers'), /X-Request-Id/)
    t.match(res.headers.get('vary'), /origin/i)
    const denied = await fetch(`${server.url}${path}`, { headers: { origin: 'https://evil.example.com' } })
    t.equal(denied.status, 400)
    t.equal(denied.headers.get('access-control-allow-origin'), null, `${path}: not for another origin`)
    const deniedPreflight = await fetch(`${server.url}${path}`, { method: 'OPTIONS', headers: { origin: 'https://evil.example.com', 'access-control-request-method': 'GET' } })
    t.equal(deniedPreflight.headers.get('access-control-allow-origin'), null)
  }
  const open = await listen(t)
  const any = await fetch(`${open.url}/presence/%ZZ`, { headers: { origin: 'https://page.example.com' } })
  t.equal(any.headers.get('access-control-allow-origin'), '*', 'open by default, as every other answer')
  t.equal(any.headers.get('vary'), null)
  const bare = await fetch(`${open.url}/presence/%ZZ`, { method: 'OPTIONS' })
  t.equal(bare.status, 400, 'an OPTIONS that is no preflight gets the error itself')
})
