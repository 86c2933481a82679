// POST /send-batch: up to 1000 direct messages in one request, all validated before any is sent.
import t from 'tap'
import { connect, listen, post } from '../helper.js'

t.test('a batch is delivered in order and answered per message, in request order', async t => {
  const server = await listen(t)
  const alice = await connect(t, server, '/ws/alice')
  const bob = await connect(t, server, '/ws/bob?format=text')
  const res = await post(server, '/send-batch', {
    messages: [
      { sender: 's', receiver: 'alice', message: 'one' },
      { sender: 's', receiver: 'ghost', message: 'two' },
      { sender: 's', receiver: 'bob', message: 'three' },
      { sender: 's', receiver: 'alice', message: 'four' }
    ]
  })
  t.equal(res.status, 200)
  const results = res.body.results as Array<{ status: string, id: string }>
  t.same(results.map(r => r.status), ['sent', 'offline', 'sent', 'sent'])
  t.equal(new Set(results.map(r => r.id)).size, 4, 'an id per message')
  t.same([(await alice.nextJson()).id, (await alice.nextJson()).id], [results[0]?.id, results[3]?.id])
  t.equal(await bob.next(), '[s]: three')
})

t.test('one invalid item rejects the whole batch with a 400 naming its index; nothing is sent', async t => {
  const server = await listen(t)
  const alice = await connect(t, server, '/ws/alice')
  const good = { sender: 's', receiver: 'alice', message: 'x' }
  const cases: Array<[unknown, string]> = [
    [{ messages: [good, { sender: 's', message: 'x' }] }, 'body/messages/1/receiver is required'],
    [{ messages: [good, good, { ...good, message: ' ' }] }, 'body/messages/2/message must contain at least one non-whitespace character'],
    [{ messages: [{ ...good, reciever: 'a' }] }, 'body/messages/0/reciever is not an allowed field'],
    // Several bad items: the first is named, even when a later one has an unknown field (named first within an item).
    [{ messages: [good, { sender: 's', receiver: 'alice' }, { ...good, x: 1 }] }, 'body/messages/1/message is required'],
    [{ messages: [good, { sender: 's', message: 'x', reciever: 'alice' }, { ...good, x: 1 }] }, 'body/messages/1/reciever is not an allowed field'],
    [{ messages: [good, { ...good, message: 5, x: 1 }] }, 'body/messages/1/x is not an allowed field'],
    [{ messages: [] }, 'body/messages must not be empty'],
    [{ messages: Array.from({ length: 1001 }, () => good) }, 'body/messages must not have more than 1000 items'],
    [{ messages: good }, 'body/messages must be array'],
    [[good], 'body must be object']
  ]
  for (const [body, message] of cases) {
    t.same((await post(server, '/send-batch', body)).body, { statusCode: 400, error: 'Bad Request', message })
  }
  await post(server, '/send-message', { ...good, message: 'marker' })
  t.equal((await alice.nextJson()).message, 'marker', 'the first frame alice sees is the one sent after the bad batches')
})

t.test('a full batch of 1000 fits the default batch body limit; a bigger body is a 413', async t => {
  const server = await listen(t, { batchBodyLimit: 64 * 1024 })
  const small = await post(server, '/send-batch', { messages: Array.from({ length: 100 }, (_, i) => ({ sender: 's', receiver: `u${i}`, message: 'x' })) })
  t.equal(small.status, 200)
  const big = await post(server, '/send-batch', { messages: Array.from({ length: 1000 }, (_, i) => ({ sender: 's', receiver: `u${i}`, message: 'x'.repeat(100) })) })
  t.same([big.status, big.body.message], [413, 'the body is over 65536 bytes (BATCH_BODY_LIMIT)'])
  const defaults = await listen(t)
  const full = await post(defaults, '/send-batch', { messages: Array.from({ length: 1000 }, (_, i) => ({ sender: 's', receiver: `u${i}`, message: 'x'.repeat(1000) })) })
  t.equal(full.status, 200)
  t.equal((full.body.results as unknown[]).length, 1000)
})

t.test('a full batch to one receiver who reads is all sent: frames held until the turn ends are not unread', async t => {
  const server = await listen(t)
  const alice = await connect(t, server, '/ws/alice')
  // 1000 frames of about 1.1 KB: over MAX_BUFFERED_BYTES (1 MiB) if all were counted as unread at once.
  const messages = Array.from({ length: 1000 }, (_, i) => ({ sender: 's', receiver: 'alice', message: `${i} `.padEnd(1000, 'x') }))
  const res = await post(server, '/send-batch', { messages })
  t.equal(res.status, 200)
  const statuses = (res.body.results as Array<{ status: string }>).map(r => r.status)
  t.same(statuses.filter(s => s !== 'sent'), [], 'every message sent')
  for (let i = 0; i < 1000; i++) {
    const frame = await alice.nextJson()
    if (frame.message !== messages[i]?.message) return t.fail(`frame ${i} out of order`)
  }
  t.pass('all 1000 frames arrived in order')
})
