// asyncapi.yaml is generated from the WebSocket schemas and the close-code table: it must be valid AsyncAPI 3.0,
// match what they generate today, and say what the server really does.
import { readFile } from 'node:fs/promises'
import { DiagnosticSeverity, Parser } from '@asyncapi/parser'
import { FormatRegistry } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import t from 'tap'
import { parse } from 'yaml'
import { renderAsyncApiYaml } from '../scripts/asyncapi-yaml.js'
import { buildAsyncApi } from '../src/asyncapi.js'
import { CLOSE_CODES } from '../src/close-codes.js'
import { NO_PATH_STEP_PATTERN, USER_ID_CHARS_PATTERN } from '../src/client/names.js'
import { ErrorFrameSchema, HeartbeatFrameSchema, MessageFrameSchema, TextLineSchema, WsQuerySchema } from '../src/schemas/ws.js'
import { connect, listen } from './helper.js'

// TypeBox checks only formats it was taught (the server validates with ajv, which knows them).
FormatRegistry.Set('uuid', value => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value))
FormatRegistry.Set('date-time', value => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(value))

const committed = await readFile(new URL('../asyncapi.yaml', import.meta.url), 'utf8')
// Loosely typed on purpose: the tests below walk the document as plain YAML.
const doc = parse(committed)

t.test('the committed asyncapi.yaml matches the schemas (run `npm run asyncapi` to refresh it)', async t => {
  t.equal(committed, renderAsyncApiYaml())
  t.same(doc, buildAsyncApi(), 'and reads back as the same document')
})

t.test('@asyncapi/parser finds no error or warning in it', async t => {
  const parser = new Parser()
  const diagnostics = await parser.validate(committed)
  const problems = diagnostics.filter(d => d.severity === DiagnosticSeverity.Error || d.severity === DiagnosticSeverity.Warning)
  t.same(problems.map(d => `${d.path.join('.')}: ${d.message}`), [])
  const { document } = await parser.parse(committed)
  t.ok(document, 'it parses')
  t.equal(document?.version(), '3.0.0')
})

t.test('it describes the channel the server serves', async t => {
  const channel = doc.channels.receiver
  t.equal(channel.address, '/ws/{userId}')
  t.same(Object.keys(channel.parameters), ['userId'])
  t.match(channel.parameters.userId['x-schema'], { type: 'string', minLength: 1, maxLength: 64, pattern: USER_ID_CHARS_PATTERN, allOf: [{ pattern: NO_PATH_STEP_PATTERN }] })
  t.same(channel.bindings.ws.query.properties, JSON.parse(JSON.stringify(WsQuerySchema.properties)))
  t.equal(channel.bindings.ws.method, 'GET')
  t.same(Object.keys(channel.bindings.ws.headers.properties), ['Authorization', 'Sec-WebSocket-Protocol', 'Origin'])
  t.same(channel['x-subprotocols'].map((p: { name: string }) => p.name), ['pushwire', 'pushwire.heartbeat', 'bearer.<token>'])
  t.equal(doc.servers.local.host, 'localhost:3000')
  t.equal(doc.servers.local.protocol, 'ws')
})

t.test('the channel is receive-only: every operation is a receive', async t => {
  const actions = Object.values(doc.operations).map(op => (op as { action: string }).action)
  t.same(new Set(actions), new Set(['receive']))
})

t.test('every close code of the table is listed, those clients act on among them', async t => {
  const listed = doc.channels.receiver['x-close-codes'].map((c: { code: number }) => c.code)
  t.same(listed, CLOSE_CODES.map(c => c.code))
  for (const code of [1001, 1006, 1008, 1009, 1013, 4001]) t.ok(listed.includes(code), String(code))
  for (const code of listed) t.match(doc.channels.receiver.description, `| ${code as number} |`, `${code as number} is in the table`)
})

t.test('every message schema is a server schema, and its examples (from the real encoder) fit it', async t => {
  const schemas = doc.components.schemas
  t.same(Object.keys(schemas), ['DirectMessageFrame', 'TopicMessageFrame', 'BroadcastMessageFrame', 'TextLine', 'ErrorFrame', 'HeartbeatFrame'])
  const [direct, topic, broadcast] = MessageFrameSchema.anyOf
  const server = { DirectMessageFrame: direct, TopicMessageFrame: topic, BroadcastMessageFrame: broadcast, TextLine: TextLineSchema, ErrorFrame: ErrorFrameSchema, HeartbeatFrame: HeartbeatFrameSchema }
  for (const [name, schema] of Object.entries(server)) {
    t.same(schemas[name], JSON.parse(JSON.stringify(schema)), `${name} is the server's schema`)
  }
  for (const [name, message] of Object.entries(doc.components.messages)) {
    const { payload, examples } = message as { payload: { $ref: string }, examples: Array<{ payload: unknown }> }
    const schema = server[payload.$ref.split('/').pop() as keyof typeof server]
    t.ok(examples.length > 0, `${name} has examples`)
    for (const example of examples) t.ok(Value.Check(schema, example.payload), `${name}: ${JSON.stringify(example.payload)}`)
  }
})

t.test('a real connection sends what the document says', async t => {
  const server = await listen(t)
  const json = await connect(t, server, '/ws/alice?topics=news', {}, ['pushwire'])
  const text = await connect(t, server, '/ws/alice?format=text&topics=news')
  t.equal(json.ws.protocol, 'pushwire', 'the server selects the pushwire subprotocol')
  await server.app.inject({ method: 'POST', url: '/publish', payload: { sender: 'newsroom', topic: 'news', message: 'a headline' } })
  t.ok(Value.Check(MessageFrameSchema, await json.nextJson()), 'a JSON frame fits its schema')
  t.match(await text.next(), new RegExp(doc.components.schemas.TextLine.pattern), 'a text line fits its pattern')
  text.ws.send('hello?')
  t.same(JSON.parse(await text.next()), doc.components.messages.ErrorFrame.examples[0].payload, 'a client frame gets the documented error frame')
  const beating = await connect(t, server, '/ws/alice', {}, ['pushwire.heartbeat', 'pushwire'])
  t.equal(beating.ws.protocol, 'pushwire.heartbeat')
  t.same(await beating.nextJson(), doc.components.messages.HeartbeatFrame.examples[0].payload, 'the documented heartbeat frame (the default interval)')
})

t.test('a running service serves the same document at GET /asyncapi.json', async t => {
  const server = await listen(t)
  const res = await fetch(`${server.url}/asyncapi.json`)
  t.equal(res.status, 200)
  t.same(await res.json(), doc)
})

t.test('asyncapi.yaml reads the same in YAML 1.1 readers (PyYAML, Ruby) as in YAML 1.2 ones', async t => {
  // Regression: unquoted example timestamps became dates in 1.1 readers, against their own `type: string`.
  const text = await readFile(new URL('../asyncapi.yaml', import.meta.url), 'utf8')
  t.same(parse(text, { version: '1.1' }), parse(text))
  t.same(parse(text), JSON.parse(JSON.stringify(buildAsyncApi())))
})
