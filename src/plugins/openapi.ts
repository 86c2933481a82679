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
      tags: [
        { name: 'send', description: 'Send messages over HTTP' },
        { name: 'receive', description: 'Receive messages over a WebSocket' },
        { name: 'presence', description: 'Who is online' },
        { name: 'operations', description: 'Health and readiness' }
      ]
    },
    hideUntagged: true
  })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
}

export default fp(openapiPlugin, { name: 'openapi', fastify: '5.x' })
