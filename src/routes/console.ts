// GET /: the console page, and /assets/: its stylesheet and the browser build of src/console and src/client
// (made by `npm run build`, served by @fastify/static). The page talks only to its own origin, which its CSP enforces.
import { existsSync } from 'node:fs'
import { basename, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import type { FastifyPluginAsync } from 'fastify'
import { httpError } from '../plugins/error-handler.js'
import { CONSOLE_CSS, consolePage } from './console-page.js'

export interface ConsoleOptions {
  /** Where the browser build lives; by default dist/public of this package. */
  assetsDir?: string
  maxMessageLength: number
}

const CSP = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "img-src 'self' data:",
  "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'"
].join('; ')

/** The package's dist/public, seen from this module: it runs from src/routes (tests) or dist/src/routes (npm start). */
export function defaultAssetsDir (moduleUrl: string = import.meta.url): string {
  const root = fileURLToPath(new URL('../../', moduleUrl))
  return basename(root) === 'dist' ? join(root, 'public') : join(root, 'dist', 'public')
}

const consoleRoutes: FastifyPluginAsync<ConsoleOptions> = async (app, opts) => {
  const assetsDir = opts.assetsDir ?? defaultAssetsDir()
  const built = existsSync(join(assetsDir, 'console', 'app.js'))
  const page = consolePage({
    receiverAuth: app.receiverTokens !== null,
    publisherAuth: app.publisherKeys.enabled,
    maxMessageLength: opts.maxMessageLength
  })

  app.get('/', { schema: { hide: true } }, async (_request, reply) => {
    if (!built) throw httpError(503, 'the console is not built: run npm run build, then restart')
    return await reply.type('text/html; charset=utf-8')
      .header('content-security-policy', CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .send(page)
  })
  app.get('/assets/console.css', { schema: { hide: true } }, async (_request, reply) =>
    await reply.type('text/css; charset=utf-8').send(CONSOLE_CSS))
  // Browsers ask for it on every page load; the console has no icon, and a 404 shows as an error in their console.
  app.get('/favicon.ico', { schema: { hide: true } }, async (_request, reply) => await reply.code(204).send())
  if (built) {
    await app.register(async (assets) => {
      // A directory, a path that steps out with "..", or one spelt another way ("//", "/./") is not an asset: the
      // usual 404, where @fastify/static says only 403 "Forbidden". Its only other error, a file that cannot be
      // read, is no more of an asset.
      assets.setErrorHandler((_err, _request, reply) => { reply.callNotFound() })
      await assets.register(fastifyStatic, {
        root: assetsDir,
        prefix: '/assets/',
        index: false,
        maxAge: 60_000,
        allowedPath: path => !path.endsWith('/')
      })
    })
  }
}

export default consoleRoutes
