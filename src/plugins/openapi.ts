// OpenAPI 3.1 from the route schemas (@fastify/swagger), served at GET /openapi.json.
// `npm run openapi` writes the same document to openapi.yaml; a test fails when that file is stale.
import swagger from '@fastify/swagger'
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'

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
            description: 'A publisher API key (API_KEYS), needed by every POST route when API_KEYS is set.'
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
}

export default fp(openapiPlugin, { name: 'openapi', fastify: '5.x' })
