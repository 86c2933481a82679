// Request bodies are JSON in UTF-8 (RFC 8259): anything else is a malformed request, never a silently altered message.
import { request } from 'node:http'
import { gzipSync } from 'node:zlib'
import t from 'tap'
import { connect, listen, post, rawExchange, type Server } from '../helper.js'

/** POSTs raw bytes (fetch would re-encode a string), resolving with the status and parsed JSON answer. */
async function postBytes (server: Server, path: string, bytes: Buffer, headers: Record<string, string> = {}): Promise<{ status: number, headers: Record<string, unknown>, body: Record<string, unknown> }> {
  return await new Promise((resolve, reject) => {
    const req = request(server.url + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, res => {
      let text = ''
      res.on('data', (chunk: Buffer) => { text += chunk.toString() })
      res.on('end', () => resolve({ status: res.statusCode as number, headers: res.headers, body: JSON.parse(text) as Record<string, unknown> }))
    })
    req.on('error', reject)
    req.end(bytes)
  })
}

t.test('a body that is not valid UTF-8 is a 400, and nothing is pushed', async t => {
  const server = await listen(t)
  const bob = await connect(t, server, '/ws/bob')
  // "café" in Latin-1 (0xE9) and a stray 0xFF: used to reach bob as "caf\uFFFD \uFFFD".
  const latin1 = Buffer.concat([Buffer.from('{"sender":"x","receiver":"bob","message":"caf'), Buffer.from([0xe9, 0x20, 0xff]), Buffer.from('"}')])
  const res = await postBytes(server, '/send-message', latin1)
  t.equal(res.status, 400)
  t.same(res.body, { statusCode: 400, error: 'Bad Request', message: 'the body is not valid UTF-8 (JSON must be UTF-8, RFC 8259)' })
  // A truncated multi-byte sequence, in a batch.
  const cut = Buffer.concat([Buffer.from('{"messages":[{"sender":"x","receiver":"bob","message":"'), Buffer.from('€').subarray(0, 2), Buffer.from('"}]}')])
  t.equal((await postBytes(server, '/send-batch', cut)).status, 400)
  // Valid UTF-8 still goes through untouched, and is the first frame bob sees.
  const ok = await postBytes(server, '/send-message', Buffer.from('{"sender":"x","receiver":"bob","message":"café 🎉"}'))
  t.equal(ok.status, 200)
  t.match(await bob.nextJson(), { message: 'café 🎉' })
})

t.test('a compressed body is a 415 that names its encoding and says what is accepted, and nothing is pushed', async t => {
  const server = await listen(t)
  const bob = await connect(t, server, '/ws/bob')
  const json = Buffer.from('{"sender":"x","receiver":"bob","message":"zipped"}')
  // Its bytes used to be parsed as they came: "not valid UTF-8", which sends the client looking in the wrong place.
  for (const [encoding, bytes] of [['gzip', gzipSync(json)], ['br', json], ['gzip, identity', gzipSync(json)]] as const) {
    const res = await postBytes(server, '/send-message', bytes, { 'content-encoding': encoding })
    t.equal(res.status, 415, encoding)
    t.equal(res.headers['accept-encoding'], 'identity', 'RFC 9110: a 415 for a content coding lists the ones accepted')
    t.same(res.body, { statusCode: 415, error: 'Unsupported Media Type', message: `Content-Encoding ${JSON.stringify(encoding)} is not supported: send the body uncompressed` })
  }
  t.equal((await postBytes(server, '/send-batch', gzipSync('{"messages":[]}'), { 'content-encoding': 'gzip' })).status, 415)
  // "identity" is no encoding at all (any case), and is what bob receives first.
  t.equal((await postBytes(server, '/send-message', json, { 'content-encoding': 'Identity' })).status, 200)
  t.equal((await postBytes(server, '/send-message', json, { 'content-encoding': '' })).status, 200, 'an empty header names no coding')
  t.match(await bob.nextJson(), { message: 'zipped' })
  t.match(await bob.nextJson(), { message: 'zipped' })
})

t.test('a body in a transfer coding other than chunked is a 400 that says so, and nothing is pushed', async t => {
  // Regression: "Transfer-Encoding: gzip, chunked" was read as if only chunked, so a compressed body was parsed raw.
  const server = await listen(t)
  const bob = await connect(t, server, '/ws/bob')
  const body = '{"sender":"x","receiver":"bob","message":"coded"}'
  const chunked = (coding: string) => `POST /send-message HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: ${coding}\r\nConnection: close\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`
  const coded = await rawExchange(t, server, chunked('gzip, chunked'))
  t.match(coded, /^HTTP\/1\.1 400 /)
  t.same(JSON.parse(coded.slice(coded.indexOf('\r\n\r\n') + 4)), { statusCode: 400, error: 'Bad Request', message: 'Transfer-Encoding "gzip, chunked" is not supported: send the body chunked, or with a Content-Length' })
  t.match(await rawExchange(t, server, chunked('Chunked')), /^HTTP\/1\.1 200 /, 'chunked alone, any case, is read')
  t.match(await bob.nextJson(), { message: 'coded' }, 'only the chunked one was pushed')
})

t.test('a forbidden __proto__ or constructor.prototype key is named as such, not called invalid JSON', async t => {
  const server = await listen(t)
  for (const body of [
    '{"sender":"a","receiver":"b","message":"x","__proto__":{"admin":true}}',
    '{"sender":"a","receiver":"b","message":"x","constructor":{"prototype":{}}}',
    '\uFEFF{"sender":"a","receiver":"b","message":"x","__proto__":{}}'
  ]) {
    const res = await post(server, '/send-message', body)
    t.equal(res.status, 400)
    t.equal(res.body.message, 'the body holds a "__proto__" or "constructor.prototype" key, which is refused')
  }
  t.equal((await post(server, '/send-message', '{"sender":')).body.message, "Body is not valid JSON but content-type is set to 'application/json'")
  t.equal((await post(server, '/send-message', '')).status, 400, 'an empty body')
})
