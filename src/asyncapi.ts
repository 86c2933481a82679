// The AsyncAPI 3.0 contract of GET /ws/:userId, built from the same schemas, constants and close-code table the
// server uses, so it cannot drift from them unnoticed. `npm run asyncapi` writes it to asyncapi.yaml.
// It describes a receiver (the application that connects), which is why every operation is a `receive`.
import type { TSchema } from '@sinclair/typebox'
import { CLOSE_CODES } from './close-codes.js'
import { OutgoingMessage } from './message.js'
import { URL_CREDENTIALS } from './plugins/auth.js'
import { HEARTBEAT_SUBPROTOCOL, SUBPROTOCOL, TOKEN_PREFIX } from './plugins/upgrade-guard.js'
import {
  ErrorFrameSchema, HeartbeatFrameSchema, MAX_CLIENT_FRAME_BYTES, MessageFrameSchema, RECEIVE_ONLY_ERROR, TextLineSchema, WsParamsSchema,
  WsQuerySchema, type HeartbeatFrame
} from './schemas/ws.js'

/** A plain JSON value, as it appears in the YAML. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

const CHANNEL = 'receiver'
const [DirectFrameSchema, TopicFrameSchema, BroadcastFrameSchema] = MessageFrameSchema.anyOf

/** A TypeBox schema as plain JSON Schema: its symbol-keyed internals dropped. */
const plain = (schema: TSchema): { [key: string]: Json } => JSON.parse(JSON.stringify(schema)) as { [key: string]: Json }
const ref = (path: string): { $ref: string } => ({ $ref: `#/${path}` })

// Fixed so that the examples, made by the real encoder, are the same on every run.
const EXAMPLE_ID = '019a6c1e-8f3a-7b2c-9d4e-5f6a7b8c9d0e'
const EXAMPLE_SENT_AT = '2026-01-01T12:00:00.000Z'
const examples = {
  direct: new OutgoingMessage('bob', 'hello from curl', { kind: 'direct', receiver: 'alice' }, EXAMPLE_ID, EXAMPLE_SENT_AT),
  topic: new OutgoingMessage('newsroom', 'a headline', { kind: 'topic', topic: 'news' }, EXAMPLE_ID, EXAMPLE_SENT_AT),
  broadcast: new OutgoingMessage('ops', 'maintenance at 05:00 UTC', { kind: 'broadcast' }, EXAMPLE_ID, EXAMPLE_SENT_AT)
}
const heartbeatExample: HeartbeatFrame = { type: 'heartbeat', intervalMs: 30_000 }
const jsonExample = (message: OutgoingMessage): Json => JSON.parse(message.encode('json').toString()) as Json
const textExample = (message: OutgoingMessage): string => message.encode('text').toString()

const closeCodeTable = [
  '| code | reason | when | then |',
  '|---|---|---|---|',
  ...CLOSE_CODES.map(c => `| ${c.code} | ${c.reason === '' ? '–' : `\`${c.reason}\``} | ${c.when} | ${c.then} |`)
].join('\n')

const channelDescription = `One WebSocket per connection; a user may hold several (tabs, devices) and every one gets every message.

**Connecting.** Open \`GET /ws/{userId}\` with an upgrade. Offer the subprotocol \`${SUBPROTOCOL}\`: the server \
selects it whenever it is offered, or \`${HEARTBEAT_SUBPROTOCOL}\` when that is offered, and never anything else, so a \
client that offers neither gets none selected (and a browser then fails the connection). When the server has a JWT_SECRET \
(always in production) the upgrade needs a receiver token: in \`Authorization: Bearer <token>\`, or, from a browser, \
as a second subprotocol \`${TOKEN_PREFIX}<token>\` next to \`${SUBPROTOCOL}\`. A token in the URL is refused.

**Refused upgrades** get a plain HTTP answer and never a 101: 400 (bad user id, query or a token in the URL), 401/403 \
(token, topic or Origin), 426 (no upgrade), 429 (per-user connection cap or upgrade rate), 503 (shutting down, or \
Redis unreachable in cluster mode). openapi.yaml describes them under \`GET /ws/{userId}\`.

**Receive-only.** The server pushes one text frame per message and needs nothing from the client. A data frame \
from the client (text or binary) is answered with the error frame and otherwise ignored; a client frame over \
${MAX_CLIENT_FRAME_BYTES} bytes, invalid UTF-8 or a protocol violation closes the connection (see below). The server \
pings every HEARTBEAT_INTERVAL_MS; browsers and ws answer on their own, and a connection that misses a pong is \
terminated.

**Heartbeat frames (opt-in).** Browsers cannot see pings, so a connection that died without a FIN or RST looks open \
to them for good. A client that offers \`${HEARTBEAT_SUBPROTOCOL}\` (before \`${SUBPROTOCOL}\`) has it selected, and gets \
the heartbeat frame, JSON in either format, right after the upgrade and then with every ping. It can take the \
connection for dead after two intervals and a margin without a frame; the client library allows 2 × intervalMs + \
5 s. A server older than this selects \`${SUBPROTOCOL}\` and sends none. Clients that do not offer it never get one.

**Close codes**

${closeCodeTable}`

const headersSchema: { [key: string]: Json } = {
  type: 'object',
  properties: {
    Authorization: {
      type: 'string',
      description: '`Bearer <receiver token>` (the scheme name is case-insensitive). Needed when the server has a ' +
        `JWT_SECRET, unless the token rides in Sec-WebSocket-Protocol. Wins over a \`${TOKEN_PREFIX}\` subprotocol.`,
      examples: ['Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.…']
    },
    'Sec-WebSocket-Protocol': {
      type: 'string',
      description: `Comma-separated subprotocols: \`${SUBPROTOCOL}\` (the one the server selects), \`${HEARTBEAT_SUBPROTOCOL}\` ` +
        'for heartbeat frames (selected instead when offered) and, from a browser that cannot set Authorization, ' +
        `\`${TOKEN_PREFIX}<receiver token>\`.`,
      examples: [SUBPROTOCOL, `${HEARTBEAT_SUBPROTOCOL}, ${SUBPROTOCOL}, ${TOKEN_PREFIX}eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.…`]
    },
    Origin: {
      type: 'string',
      description: 'Sent by browsers. It must be one of ALLOWED_ORIGINS (default: any), or the upgrade gets 403; ' +
        'an upgrade without Origin (a server, curl, wscat) is allowed.',
      examples: ['https://app.example.com']
    }
  }
}

const message = (name: string, title: string, summary: string, contentType: string, payload: string, named: Record<string, Json>) => ({
  name,
  title,
  summary,
  contentType,
  payload: ref(`components/schemas/${payload}`),
  examples: Object.entries(named).map(([exampleName, example]) => ({ name: exampleName, payload: example }))
})

/** The AsyncAPI 3.0 document of the WebSocket channel, as a plain object. */
export function buildAsyncApi (): { [key: string]: Json } {
  const channelMessage = (key: string): { $ref: string } => ref(`channels/${CHANNEL}/messages/${key}`)
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'pushwire WebSocket',
      version: '0.1.0',
      description: 'HTTP in, WebSocket out: whatever is POSTed to pushwire (see openapi.yaml) is pushed at once to ' +
        'every open WebSocket of its receiver. This document describes a receiver, the application that opens ' +
        '`GET /ws/{userId}`: the channel carries frames from the server to it only, so every operation is a `receive`.',
      license: { name: 'MIT' }
    },
    defaultContentType: 'application/json',
    servers: {
      local: {
        host: 'localhost:3000',
        protocol: 'ws',
        title: 'A local pushwire',
        description: '`npm start` with the defaults (PORT 3000). A receiver token is needed only when JWT_SECRET is set.'
      },
      production: {
        host: '{host}',
        protocol: 'wss',
        title: 'pushwire behind TLS',
        description: 'NODE_ENV=production requires JWT_SECRET, so every upgrade needs a receiver token.',
        variables: { host: { description: 'The host (and port, if not 443) of your deployment.', examples: ['push.example.com'] } },
        security: [ref('components/securitySchemes/bearerHeader'), ref('components/securitySchemes/bearerSubprotocol')]
      }
    },
    channels: {
      [CHANNEL]: {
        address: '/ws/{userId}',
        title: 'The push channel of one user',
        description: channelDescription,
        parameters: {
          userId: {
            description: `The user to receive for: ${String(WsParamsSchema.properties.userId.description)}. ` +
              'Anything else gets 400 before the upgrade. With a token, it must be the token\'s `sub`.',
            examples: ['alice'],
            'x-schema': plain(WsParamsSchema.properties.userId)
          }
        },
        messages: {
          directMessage: ref('components/messages/DirectMessage'),
          topicMessage: ref('components/messages/TopicMessage'),
          broadcastMessage: ref('components/messages/BroadcastMessage'),
          textLine: ref('components/messages/TextLine'),
          errorFrame: ref('components/messages/ErrorFrame'),
          heartbeatFrame: ref('components/messages/HeartbeatFrame')
        },
        bindings: {
          ws: {
            method: 'GET',
            query: {
              ...plain(WsQuerySchema),
              description: 'Any other parameter gets 400, and so does a credential in the URL ' +
                `(${URL_CREDENTIALS.join(', ')}): send the token in a header or subprotocol instead.`
            },
            headers: headersSchema,
            bindingVersion: '0.1.0'
          }
        },
        'x-subprotocols': [
          { name: SUBPROTOCOL, description: `Selected by the server whenever it is offered, unless ${HEARTBEAT_SUBPROTOCOL} is too.` },
          { name: HEARTBEAT_SUBPROTOCOL, description: `Offered next to ${SUBPROTOCOL} for heartbeat frames; selected in its place.` },
          { name: `${TOKEN_PREFIX}<token>`, description: 'Carries the receiver token from a browser; never selected.' }
        ],
        'x-close-codes': CLOSE_CODES.map(c => ({ ...c }))
      }
    },
    operations: {
      receiveMessage: {
        action: 'receive',
        channel: ref(`channels/${CHANNEL}`),
        title: 'Receive messages as JSON',
        summary: 'With ?format=json (the default): one JSON frame per message sent to this user, to a topic it ' +
          'subscribed to with ?topics=, or to everyone.',
        messages: [channelMessage('directMessage'), channelMessage('topicMessage'), channelMessage('broadcastMessage')]
      },
      receiveTextLine: {
        action: 'receive',
        channel: ref(`channels/${CHANNEL}`),
        title: 'Receive messages as plain lines',
        summary: 'With ?format=text: one plain line per message, instead of the JSON frame.',
        messages: [channelMessage('textLine')]
      },
      receiveError: {
        action: 'receive',
        channel: ref(`channels/${CHANNEL}`),
        title: 'Receive the answer to a client frame',
        summary: 'The channel is receive-only: each data frame the client sends is answered with this JSON error ' +
          'frame, whatever the format.',
        messages: [channelMessage('errorFrame')]
      },
      receiveHeartbeat: {
        action: 'receive',
        channel: ref(`channels/${CHANNEL}`),
        title: 'Receive heartbeat frames',
        summary: `Only with the subprotocol ${HEARTBEAT_SUBPROTOCOL}: one right after the upgrade, then one with every ` +
          'ping, whatever the format. A client that gets none for two intervals and a margin can take the connection for dead.',
        messages: [channelMessage('heartbeatFrame')]
      }
    },
    components: {
      schemas: {
        DirectMessageFrame: plain(DirectFrameSchema),
        TopicMessageFrame: plain(TopicFrameSchema),
        BroadcastMessageFrame: plain(BroadcastFrameSchema),
        TextLine: plain(TextLineSchema),
        ErrorFrame: plain(ErrorFrameSchema),
        HeartbeatFrame: plain(HeartbeatFrameSchema)
      },
      messages: {
        DirectMessage: message('DirectMessage', 'A direct message', 'Sent with POST /send-message or /send-batch to this user.',
          'application/json', 'DirectMessageFrame', { direct: jsonExample(examples.direct) }),
        TopicMessage: message('TopicMessage', 'A topic message', 'Sent with POST /publish to a topic this connection subscribed to.',
          'application/json', 'TopicMessageFrame', { topic: jsonExample(examples.topic) }),
        BroadcastMessage: message('BroadcastMessage', 'A broadcast', 'Sent with POST /broadcast to every connection.',
          'application/json', 'BroadcastMessageFrame', { broadcast: jsonExample(examples.broadcast) }),
        TextLine: message('TextLine', 'A message as a plain line', 'Any of the three messages, with ?format=text.',
          'text/plain', 'TextLine', {
            direct: textExample(examples.direct), topic: textExample(examples.topic), broadcast: textExample(examples.broadcast)
          }),
        ErrorFrame: message('ErrorFrame', 'The receive-only error', 'The answer to a frame sent by the client.',
          'application/json', 'ErrorFrame', { receiveOnly: { type: 'error', message: RECEIVE_ONLY_ERROR } }),
        HeartbeatFrame: message('HeartbeatFrame', 'A heartbeat', `Sent with every ping to a connection that selected ${HEARTBEAT_SUBPROTOCOL}, and once right after its upgrade.`,
          'application/json', 'HeartbeatFrame', { defaultInterval: { ...heartbeatExample } })
      },
      securitySchemes: {
        bearerHeader: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'An HS256 receiver token (from POST /tokens, or signed with JWT_SECRET) with `sub` the user id, ' +
            '`exp`, and optionally `topics` and an `aud` that includes "pushwire", in `Authorization: Bearer <token>`.'
        },
        bearerSubprotocol: {
          type: 'httpApiKey',
          in: 'header',
          name: 'Sec-WebSocket-Protocol',
          description: 'The same receiver token, for browsers, which cannot set headers: offered as the subprotocol ' +
            `\`${TOKEN_PREFIX}<token>\` next to \`${SUBPROTOCOL}\`, e.g. \`new WebSocket(url, ['${SUBPROTOCOL}', '${TOKEN_PREFIX}' + token])\`.`
        }
      }
    }
  }
}
