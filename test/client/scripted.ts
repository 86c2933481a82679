// A bare ws server that closes each connection the way a test scripts it.
import { once } from 'node:events'
import type { Test } from 'tap'
import { WebSocketServer, type WebSocket } from 'ws'

export type Step = (socket: WebSocket) => void

/**
 * A ws server whose nth connection runs the nth step; it remembers the subprotocols each one offered. It selects
 * `selects` when offered: "pushwire", as a server older than heartbeat frames does, unless told otherwise.
 */
export async function scripted (t: Test, steps: Step[], selects = 'pushwire'): Promise<{ url: string, offered: string[], connections: () => number }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: protocols => protocols.has(selects) ? selects : false })
  await once(wss, 'listening')
  const offered: string[] = []
  wss.on('connection', (socket, request) => {
    offered.push(request.headers['sec-websocket-protocol'] ?? '')
    steps[offered.length - 1]?.(socket)
  })
  t.teardown(() => {
    for (const socket of wss.clients) socket.terminate()
    wss.close()
  })
  const { port } = wss.address() as { port: number }
  return { url: `http://127.0.0.1:${port}`, offered, connections: () => offered.length }
}
