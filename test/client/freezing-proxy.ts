// A TCP proxy to a real pushwire server whose connections can be frozen: bytes are dropped both ways and nothing is
// closed, the way a NAT that forgot the connection behaves.
import { once } from 'node:events'
import { connect as tcpConnect, createServer, type Socket } from 'node:net'
import type { Test } from 'tap'

/** A ping frame with no payload, the server's heartbeat. */
const PING = Buffer.from([0x89, 0x00])

export interface FreezingProxy {
  url: string
  /** Freezes every connection made so far; later ones pass as usual. */
  freeze: () => void
  /** Resolves once the proxy has passed on n of the server's pings in all. */
  pings: (n: number) => Promise<void>
}

export async function freezingProxy (t: Test, target: string): Promise<FreezingProxy> {
  const live = new Set<{ frozen: boolean }>()
  const sockets = new Set<Socket>()
  let pings = 0
  const wake: Array<() => void> = []
  const server = createServer(downstream => {
    const pipe = { frozen: false }
    live.add(pipe)
    const upstream = tcpConnect(Number(new URL(target).port), '127.0.0.1')
    for (const socket of [downstream, upstream]) {
      sockets.add(socket)
      socket.on('error', () => {})
      // Segments pass as they come, like a NAT's: with Nagle, a pong could wait behind a delayed ACK past a short
      // heartbeat interval, and the server would take a live client for dead.
      socket.setNoDelay(true)
    }
    downstream.on('data', (chunk: Buffer) => { if (!pipe.frozen) upstream.write(chunk) })
    upstream.on('data', (chunk: Buffer) => {
      if (pipe.frozen) return
      // Anywhere in the chunk: a heartbeat frame may travel in the same segment.
      if (chunk.includes(PING)) {
        pings++
        for (const resolve of wake.splice(0)) resolve()
      }
      downstream.write(chunk)
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => {
    for (const socket of sockets) socket.destroy()
    server.close()
  })
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    freeze: () => {
      for (const pipe of live) pipe.frozen = true
      live.clear()
    },
    async pings (n) {
      const seen = (): number => pings
      while (seen() < n) await new Promise<void>(resolve => wake.push(resolve))
    }
  }
}
