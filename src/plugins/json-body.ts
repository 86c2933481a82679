// JSON request bodies: Fastify's own parser, after a check that the bytes are UTF-8. Fastify decodes a body as UTF-8
// and quietly turns every invalid byte into U+FFFD, so a Latin-1 "café" would be pushed altered yet answered "sent".
// RFC 8259 allows JSON only in UTF-8, so anything else is a malformed request (400), as an invalid UTF-8 frame is on
// the WebSocket (1007). Nothing here decompresses, so a body with a Content-Encoding is a 415 (RFC 9110 15.5.16)
// rather than bytes that fail as "not valid UTF-8".
import { isUtf8 } from 'node:buffer'
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { httpError } from './error-handler.js'

const NOT_UTF8_MESSAGE = 'the body is not valid UTF-8 (JSON must be UTF-8, RFC 8259)'
const FORBIDDEN_KEY_MESSAGE = 'the body holds a "__proto__" or "constructor.prototype" key, which is refused'

async function jsonBodyPlugin (app: FastifyInstance): Promise<void> {
  // Fastify's defaults: such keys are refused, never stripped, so a poisoned body can never pass validation.
  const parse = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body: Buffer, done) => {
    const encoding = request.headers['content-encoding']
    // An empty header names no coding, like "identity".
    if (encoding !== undefined && encoding !== '' && encoding.toLowerCase() !== 'identity') return done(unsupportedEncoding(encoding), undefined)
    // Node's parser takes "gzip, chunked" and undoes only the chunking: the coded bytes would be parsed as they came.
    const transfer = request.headers['transfer-encoding']
    if (transfer !== undefined && transfer.toLowerCase() !== 'chunked') {
      return done(httpError(400, `Transfer-Encoding ${JSON.stringify(transfer)} is not supported: send the body chunked, or with a Content-Length`), undefined)
    }
    if (!isUtf8(body)) return done(httpError(400, NOT_UTF8_MESSAGE), undefined)
    const text = body.toString()
    parse(request, text, (err, parsed) => {
      // Fastify's parser calls every failure "not valid JSON"; for these keys that would send the client hunting
      // for a syntax error. Only failures pay for the second parse.
      if (err !== null && isPlainJson(text)) return done(httpError(400, FORBIDDEN_KEY_MESSAGE), undefined)
      done(err, parsed)
    })
  })
}

function unsupportedEncoding (encoding: string): Error {
  const message = `Content-Encoding ${JSON.stringify(encoding)} is not supported: send the body uncompressed`
  // Fastify sets an error's headers on its answer; this one lists the codings that would have been accepted.
  return Object.assign(httpError(415, message), { headers: { 'accept-encoding': 'identity' } })
}

function isPlainJson (text: string): boolean {
  try {
    // Fastify's parser skips a leading byte-order mark; JSON.parse would not.
    JSON.parse(text.replace(/^\uFEFF/, ''))
    return true
  } catch {
    return false
  }
}

export default fp(jsonBodyPlugin, { name: 'json-body', fastify: '5.x' })
