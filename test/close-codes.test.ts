// The close-code table is what the server closes with and what the contracts list, so it must be sound.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { CLOSE_CODES } from '../src/close-codes.js'

t.test('every code appears once, with a reason that fits a close frame', async t => {
  t.same(CLOSE_CODES.map(c => c.code), [1001, 1002, 1006, 1007, 1008, 1009, 1013, 4001])
  for (const { code, reason, when, then } of CLOSE_CODES) {
    // RFC 6455 5.5: a control frame payload is at most 125 bytes, two of them the code.
    t.ok(Buffer.byteLength(reason) <= 123, `${code} reason fits`)
    t.ok(when.length > 0 && then.length > 0, `${code} says when and what to do`)
  }
})

t.test('the README lists exactly the codes of the table', async t => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
  const section = readme.slice(readme.indexOf('#### Close codes'), readme.indexOf('### The client library'))
  const listed = [...section.matchAll(/^\| `(\d{4})` \|/gm)].map(match => Number(match[1])).sort((a, b) => a - b)
  t.same(listed, CLOSE_CODES.map(c => c.code))
})
