// Real ws sockets on loopback, both ends in the test process, for the tests below Fastify: the connection manager
// and the frame writes.
import { once } from 'node:events'
import type { Socket } from 'node:net'
import type { Test } from 'tap'
import WebSocket, { WebSocketServer } from 'ws'

/** The server's end, its TCP socket, the client's end, and the texts the client has received so far. */
export interface Pair { server: WebSocket, tcp: Socket, client: WebSocket, frames: string[] }

export async function socketPairs (t: Test, count: number): Promise<Pair[]> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' })
  await once(wss, 'listening')
  const { port } = wss.address() as { port: number }
  const pairs: Pair[] = []
  for (let i = 0; i < count; i++) {
    const accepted = once(wss, 'connection')
    const client = new WebSocket(`ws://127.0.0.1:${port}`)
    const frames: string[] = []
    client.on('message', (data: Buffer) => frames.push(data.toString()))
    const [server] = await accepted as [WebSocket]
    await once(client, 'open')
    pairs.push({ server, tcp: (server as unknown as { _socket: Socket })._socket, client, frames })
  }
  t.teardown(() => {
    for (const { client } of pairs) client.terminate()
    wss.close()
  })
  return pairs
}

/**
 * Resolves once every frame written to these pairs' server ends has reached their clients: a ping written after
 * the frames (held or not, it queues behind them) arrives after them.
 */
export async function delivered (pairs: Pair[]): Promise<void> {
  await Promise.all(pairs.filter(p => p.client.readyState === WebSocket.OPEN).map(async ({ server, client }) => {
    const ping = once(client, 'ping')
    server.ping()
    await ping
  }))
}
