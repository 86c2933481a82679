// Topics, broadcast, presence and stats against a real server with real ws clients.
import t from 'tap'
import { connect, listen, LogCapture, post, refusedUpgrade, until, type Server } from '../helper.js'

const publish = (server: Server, topic: string, message: string) => post(server, '/publish', { sender: 'ops', topic, message })
const broadcast = (server: Server, message: string) => post(server, '/broadcast', { sender: 'ops', message })

t.test('topic isolation: a connection on "a" never sees "b"', async t => {
  const server = await listen(t)
  const onA = await connect(t, server, '/ws/alice?topics=a')
  const onB = await connect(t, server, '/ws/bob?topics=b')
  t.equal((await publish(server, 'b', 'for b')).body.status, 'sent')
  t.equal((await publish(server, 'a', 'for a')).body.status, 'sent')
  const frame = await onA.nextJson()
  t.same(Object.keys(frame), ['type', 'id', 'sender', 'topic', 'message', 'sentAt'])
  t.match(frame, { type: 'message', sender: 'ops', topic: 'a', message: 'for a' })
  t.equal((await onB.nextJson()).message, 'for b')
  await broadcast(server, 'sync') // a frame both must see next, proving nothing else was queued before it
  t.equal((await onA.nextJson()).message, 'sync')
  t.equal((await onB.nextJson()).message, 'sync')
})

t.test('a user with two connections on different topics gets each topic on its own connection, direct on both', async t => {
  const server = await listen(t)
  const news = await connect(t, server, '/ws/alice?topics=news')
  const orders = await connect(t, server, '/ws/alice?topics=orders-42,news')
  await publish(server, 'orders-42', 'order shipped')
  t.equal((await orders.nextJson()).message, 'order shipped')
  await publish(server, 'news', 'headline')
  t.equal((await news.nextJson()).message, 'headline')
  t.equal((await orders.nextJson()).message, 'headline')
  await post(server, '/send-message', { sender: 'bob', receiver: 'alice', message: 'direct' })
  t.match(await news.nextJson(), { receiver: 'alice', message: 'direct' })
  t.match(await orders.nextJson(), { receiver: 'alice', message: 'direct' })
  t.equal(news.frames.length, 2, 'news never saw orders-42')
})

t.test('broadcast reaches every connection, in both formats', async t => {
  const server = await listen(t)
  const clients = await Promise.all([
    connect(t, server, '/ws/a'), connect(t, server, '/ws/a?topics=x'), connect(t, server, '/ws/b'), connect(t, server, '/ws/c?format=text')
  ])
  const res = await broadcast(server, 'maintenance at 5')
  t.equal(res.body.status, 'sent')
  for (const client of clients.slice(0, 3)) {
    const frame = await client.nextJson()
    t.same(Object.keys(frame), ['type', 'id', 'sender', 'broadcast', 'message', 'sentAt'])
    t.match(frame, { id: res.body.id, broadcast: true, message: 'maintenance at 5' })
  }
  t.equal(await clients[3]?.next(), '[ops → all]: maintenance at 5')
})

t.test('?format=text lines for topic messages', async t => {
  const server = await listen(t)
  const client = await connect(t, server, '/ws/alice?format=text&topics=news')
  await publish(server, 'news', 'hello topic')
  t.equal(await client.next(), '[ops → #news]: hello topic')
})

t.test('offline answers for all three send routes, logged with ids only', async t => {
  const logs = new LogCapture()
  const server = await listen(t, {}, logs)
  const direct = await post(server, '/send-message', { sender: 'ops', receiver: 'ghost', message: 'secret one' })
  const topic = await publish(server, 'empty', 'secret two')
  const all = await broadcast(server, 'secret three')
  for (const res of [direct, topic, all]) t.same(res, { status: 200, body: { status: 'offline', id: res.body.id }, headers: res.headers })
  const dropped = logs.lines.filter(l => l.msg === 'offline, message dropped')
  t.match(dropped, [
    { msgId: direct.body.id, sender: 'ops', receiver: 'ghost' },
    { msgId: topic.body.id, sender: 'ops', topic: 'empty' },
    { msgId: all.body.id, sender: 'ops', broadcast: true }
  ])
  t.notOk(logs.raw.some(line => line.includes('secret')), 'no message text in the logs')
})

t.test('presence after connect, close and termination', async t => {
  const server = await listen(t, { heartbeatIntervalMs: 50 })
  const presence = async (userId: string) => await (await fetch(`${server.url}/presence/${userId}`)).json() as { online: boolean, connections: number }
  t.same(await presence('alice'), { userId: 'alice', online: false, connections: 0 })
  const one = await connect(t, server, '/ws/alice')
  await connect(t, server, '/ws/alice')
  t.same(await presence('alice'), { userId: 'alice', online: true, connections: 2 })
  one.ws.close()
  await one.closed
  await until(async () => (await presence('alice')).connections === 1, 'alice has one connection left')
  // A client that stops answering pings is terminated by the heartbeat and leaves presence.
  await connect(t, server, '/ws/mute', { autoPong: false })
  t.same(await presence('mute'), { userId: 'mute', online: true, connections: 1 })
  await until(async () => (await presence('mute')).online === false, 'the heartbeat has taken mute offline')
  t.same(await presence('alice'), { userId: 'alice', online: true, connections: 1 })
  const bad = await fetch(`${server.url}/presence/not%20valid`)
  t.equal(bad.status, 400)
  t.match(await bad.json(), { message: 'params/userId must contain only A-Z a-z 0-9 _ - . @ :' })
})

t.test('bad topic lists and bodies are 400s before anything happens', async t => {
  const server = await listen(t)
  const tooMany = Array.from({ length: 33 }, (_, i) => `t${i}`).join(',')
  const upgrades: Array<[string, string]> = [
    ['/ws/alice?topics=bad%20name', 'querystring/topics: "bad name" is not a topic name (1-64 characters from A-Z a-z 0-9 _ - . :)'],
    ['/ws/alice?topics=a@b', 'querystring/topics: "a@b" is not a topic name (1-64 characters from A-Z a-z 0-9 _ - . :)'],
    [`/ws/alice?topics=${tooMany}`, 'querystring/topics has 33 topics; a connection may hold at most 32'],
    ['/ws/alice?topics=a&topics=b', 'querystring/topics is given more than once; give it once'],
    ['/ws/alice?format=json&format=text', 'querystring/format is given more than once; give it once']
  ]
  for (const [path, message] of upgrades) {
    t.same(await refusedUpgrade(server, path), { status: 400, body: { statusCode: 400, error: 'Bad Request', message } }, path)
  }
  const bodies: Array<[string, unknown, string]> = [
    ['/publish', { sender: 'a', message: 'x' }, 'body/topic is required'],
    ['/publish', { sender: 'a', topic: 'a@b', message: 'x' }, 'body/topic must contain only A-Z a-z 0-9 _ - . :'],
    ['/publish', { sender: 'a', topic: 'news', message: 'x', receiver: 'b' }, 'body/receiver is not an allowed field'],
    ['/publish', { sender: 'a', topic: 'news', message: ' ' }, 'body/message must contain at least one non-whitespace character'],
    ['/broadcast', { sender: 'a', message: 'x', topic: 'news' }, 'body/topic is not an allowed field'],
    ['/broadcast', { sender: 'a', message: 7 }, 'body/message must be string'],
    ['/broadcast', { message: 'x' }, 'body/sender is required']
  ]
  for (const [path, body, message] of bodies) {
    t.same((await post(server, path, body)).body, { statusCode: 400, error: 'Bad Request', message }, `${path} ${message}`)
  }
  t.equal((await post(server, '/broadcast', 'not json', { 'content-type': 'text/plain' })).status, 415)
  const empty = await connect(t, server, '/ws/alice?topics=')
  t.equal(empty.ws.readyState, 1, 'an empty topic list is allowed')
  t.same(await (await fetch(`${server.url}/stats`)).json(), { users: 1, connections: 1, topics: 0 })
})

t.test('bookkeeping: thousands of connections with random topics, closed every way, leave nothing behind', async t => {
  const server = await listen(t, { heartbeatIntervalMs: 200 })
  const { connections } = server.app
  const random = (n: number) => Math.floor(Math.random() * n)
  const ways = ['normal', 'terminate', 'oversize', 'mute'] as const
  const seen = new Set<string>()
  for (let batch = 0; batch < 20; batch++) {
    const clients = await Promise.all(Array.from({ length: 100 }, async (_, i) => {
      const topics = Array.from({ length: random(6) }, () => `topic-${random(60)}`)
      const way = ways[random(ways.length)] as typeof ways[number]
      const client = await connect(t, server, `/ws/user-${random(300)}-${batch}-${i}?topics=${topics.join(',')}`)
      return { client, way }
    }))
    t.equal(connections.connectionCount, 100, `batch ${batch}: all 100 registered`)
    for (const { client, way } of clients) {
      seen.add(way)
      if (way === 'normal') client.ws.close(1000)
      else if (way === 'terminate') client.ws.terminate()
      else if (way === 'oversize') client.ws.send('x'.repeat(5000))
      // 'mute' stops reading only now, so no ping goes unanswered while a slow machine is still opening the batch
      // (with 200 ms heartbeats, a mute client could be gone before the count above); the heartbeat closes it.
      else client.ws.pause()
    }
    await until(() => connections.connectionCount === 0, `batch ${batch}: every connection is closed`)
    t.same([connections.userCount, connections.topicCount], [0, 0], `batch ${batch}: every index emptied`)
  }
  t.same([...seen].sort(), [...ways].sort(), 'every kind of close was exercised')
  t.same(await (await fetch(`${server.url}/stats`)).json(), { users: 0, connections: 0, topics: 0 })

  // A slow consumer and a shutdown close leave nothing behind either.
  const slow = await connect(t, server, '/ws/slow?topics=t1,t2')
  const open = await connect(t, server, '/ws/open?topics=t2,t3')
  ;(slow.ws as unknown as { _socket: { pause: () => void } })._socket.pause()
  while (connections.connectionsOf('slow') > 0) {
    await server.app.inject({ method: 'POST', url: '/publish', payload: { sender: 'x', topic: 't1', message: 'y'.repeat(1000) } })
  }
  t.same([connections.connectionCount, connections.userCount, connections.topicCount], [1, 1, 2], 'slow consumer fully unregistered')
  await server.app.close()
  t.equal((await open.closed).code, 1001)
  t.same([connections.connectionCount, connections.userCount, connections.topicCount], [0, 0, 0], 'shutdown emptied every index')
})
