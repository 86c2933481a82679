// The close-code table is what the server closes with and what the contracts list, so it must be sound.
import t from 'tap'
import { CLOSE_CODES, WS_ERROR_CLOSE_CODES } from '../src/close-codes.js'

t.test('every code appears once, in order, with a reason that fits a close frame', async t => {
  const codes = CLOSE_CODES.map(c => c.code)
  t.same(codes, [...new Set(codes)].sort((a, b) => a - b))
  t.same(codes, [1001, 1002, 1006, 1007, 1008, 1009, 1013, 4001])
  for (const { code, reason, when, then } of CLOSE_CODES) {
    // RFC 6455 5.5: a control frame payload is at most 125 bytes, two of them the code.
    t.ok(Buffer.byteLength(reason) <= 123, `${code} reason fits`)
    t.ok(when.length > 0 && then.length > 0, `${code} says when and what to do`)
  }
})

t.test('the codes ws closes with for protocol errors are in the table', async t => {
  const codes = new Set(CLOSE_CODES.map(c => c.code))
  for (const code of Object.values(WS_ERROR_CLOSE_CODES)) t.ok(codes.has(code), String(code))
})
