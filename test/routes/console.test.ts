// GET / and /assets/ over plain HTTP: headers, the auth fields, and a service whose console was never built.
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { buildApp } from '../../src/app.js'
import { defaultConfig } from '../../src/config.js'
import { defaultAssetsDir } from '../../src/routes/console.js'

/** A stand-in browser build, so these tests do not depend on `npm run build`. */
function fakeBuild (): string {
  const dir = mkdtempSync(join(tmpdir(), 'pushwire-console-'))
  mkdirSync(join(dir, 'public', 'console'), { recursive: true })
  writeFileSync(join(dir, 'public', 'console', 'app.js'), 'export {}\n')
  // Next to the assets, where a path escaping /assets/ would land.
  writeFileSync(join(dir, 'secret.json'), '{"secret":"outside the assets"}\n')
  return join(dir, 'public')
}

async function build (t: Test, overrides = {}, assetsDir = fakeBuild()) {
  const app = await buildApp({ ...defaultConfig, ...overrides }, { consoleAssetsDir: assetsDir })
  t.teardown(() => app.close())
  return app
}

t.test('GET / is the console page, locked to its own origin by its CSP', async t => {
  const app = await build(t)
  const res = await app.inject('/')
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], 'text/html; charset=utf-8')
  t.match(res.headers['content-security-policy'], /default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'/)
  t.equal(res.headers['x-content-type-options'], 'nosniff')
  t.match(res.body, '<script type="module" src="/assets/console/app.js"></script>')
  t.notMatch(res.body, /https?:\/\/(?!localhost)/, 'no CDN or other origin')
  t.match(res.body, /<div hidden>\s*<label for="token">/, 'no token field in open mode')
  t.match(res.body, 'data-max-length="1000"', 'the message limit is the configured one (checked by the script in code points)')
  t.notMatch(res.body, /<textarea[^>]* maxlength=/, 'no maxlength: it counts UTF-16 units, and would cut emoji messages short')

  const script = await app.inject('/assets/console/app.js')
  t.equal(script.statusCode, 200)
  t.match(script.headers['content-type'], 'javascript')
  const css = await app.inject('/assets/console.css')
  t.match(css.headers['content-type'], 'text/css')
  // Encoded, so the dots reach the static route instead of being resolved by the URL parser first.
  // Regression: a directory, or a path with ".." in it, was a 403 "Forbidden" that said nothing; it is not there.
  for (const escape of ['/assets/..%2fsecret.json', '/assets/%2e%2e/secret.json', '/assets/%2e%2e%2fsecret.json', '/assets/../secret.json', '/assets/', '/assets/console/', '/assets/console', '/assets//console/app.js', '/assets/console//app.js', '/assets/..%5csecret.json', '/assets/x%00']) {
    const res = await app.inject(escape)
    t.equal(res.statusCode, 404, escape)
    t.match(res.json(), { statusCode: 404, error: 'Not Found', message: /^Route GET \/.* not found$/ }, escape)
    t.notMatch(res.body, 'outside the assets', escape)
  }
  t.equal((await app.inject('/favicon.ico')).statusCode, 204, 'no icon, and no 404 in the browser console for it')
  const openapi = (await app.inject('/openapi.json')).json() as { paths: Record<string, unknown> }
  t.notOk('/' in openapi.paths, 'the page is not part of the API')
})

t.test('auth mode shows the token and API key fields', async t => {
  const app = await build(t, { apiKeys: ['publisher-key-0123456789abcdef'], jwtSecret: 'receiver-token-secret-0123456789abcdef' })
  const { body } = await app.inject('/')
  t.match(body, /<div>\s*<label for="token">/)
  t.match(body, /<div>\s*<label for="api-key">/)
})

t.test('without a browser build, GET / says how to make one', async t => {
  const app = await build(t, {}, join(tmpdir(), 'pushwire-no-such-dir'))
  const res = await app.inject('/')
  t.equal(res.statusCode, 503)
  t.same(res.json(), { statusCode: 503, error: 'Service Unavailable', message: 'the console is not built: run npm run build, then restart' })
  t.equal((await app.inject('/assets/console/app.js')).statusCode, 404)
})

t.test('the default build location is dist/public of the package', async t => {
  t.equal(defaultAssetsDir('file:///app/dist/src/routes/console.js'), '/app/dist/public', 'npm start, the image')
  t.equal(defaultAssetsDir('file:///repo/src/routes/console.ts'), '/repo/dist/public', 'tests, from the sources')
  t.match(defaultAssetsDir(), /\/dist\/public$/)
})
