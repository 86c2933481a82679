// openapi.yaml is generated from the route schemas; this fails when the committed file is stale.
import { readFile } from 'node:fs/promises'
import t from 'tap'
import { parse } from 'yaml'
import { renderOpenApiYaml } from '../src/openapi.js'
import { build } from './helper.js'

t.test('the committed openapi.yaml matches the route schemas (run `npm run openapi` to refresh it)', async t => {
  const committed = await readFile(new URL('../openapi.yaml', import.meta.url), 'utf8')
  t.equal(committed, await renderOpenApiYaml())
})

t.test('GET /openapi.json serves the same document as OpenAPI 3.1', async t => {
  const app = await build(t)
  const served = (await app.inject('/openapi.json')).json()
  const committed = parse(await readFile(new URL('../openapi.yaml', import.meta.url), 'utf8'))
  t.same(served, committed)
  t.equal(served.openapi, '3.1.0')
  t.ok(served.paths['/send-message'].post, 'documents POST /send-message')
  t.ok(served.paths['/ws/{userId}'].get, 'documents the WebSocket route')
})

t.test('every POST documents the answers the README lists for bodies: 408, 413 and 415', async t => {
  // Regression: the 408 for a body that does not arrive within REQUEST_TIMEOUT_MS was in the README but not here.
  const app = await build(t)
  const { paths } = (await app.inject('/openapi.json')).json() as { paths: Record<string, { post?: { responses: Record<string, unknown> } }> }
  const posts = Object.entries(paths).filter(([, item]) => item.post !== undefined)
  t.ok(posts.length >= 5, 'the send routes and the token route')
  for (const [path, item] of posts) {
    for (const code of ['408', '413', '415']) t.ok(code in (item.post?.responses ?? {}), `POST ${path} documents ${code}`)
  }
})
