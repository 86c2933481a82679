// OpenAPI 3.1 from the route schemas (@fastify/swagger), served at GET /openapi.json, and the AsyncAPI 3.0
// document of the WebSocket at GET /asyncapi.json. `npm run openapi` and `npm run asyncapi` write the same
// documents to openapi.yaml and asyncapi.yaml; tests fail when those files are stale.
import swagger from '@fastify/swagger'
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { buildAsyncApi } from '../asyncapi.js'

async function openapiPlugin (app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'pushwire',
        version: '0.1.0',
        description: 'HTTP in, WebSocket out: POST a message and it is pushed at once to every open WebSocket of the receiver.'
      },
      servers: [{ url: 'http://localhost:3000' }],
      components: {
        securitySchemes: {
          apiKey: {
            type: 'http',
            scheme: 'bearer',
            description: 'A publisher API key (API_KEYS), needed by every POST route and by GET /presence/{userId} when API_KEYS is set.'
          },
          receiverToken: {
            type: 'http',
            scheme: 'bearer',
            bearerFormat: 'JWT',
            description: 'An HS256 receiver token (JWT_SECRET), needed by /ws/{userId} when JWT_SECRET is set. Browsers send it as the subprotocol "bearer.<token>" next to "pushwire".'
          }
        }
      },
      tags: [
        { name: 'send', description: 'Send messages over HTTP' },
        { name: 'receive', description: 'Receive messages over a WebSocket' },
        { name: 'presence', description: 'Who is online' },
        { name: 'auth', description: 'Receiver tokens' },
        { name: 'operations', description: 'Health and readiness' }
      ]
    },
    hideUntagged: true
  })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
  const asyncapi = buildAsyncApi()
  app.get('/asyncapi.json', { schema: { hide: true } }, async () => asyncapi)
}

export default fp(openapiPlugin, { name: 'openapi', fastify: '5.x' })
