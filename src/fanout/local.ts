// One process: the ConnectionManager is the whole cluster, and every answer is synchronous.
import type { ConnectionManager } from '../connection-manager.js'
import type { OutgoingMessage } from '../message.js'
import { NO_LEASE, type Fanout, type Lease, type Stats } from './fanout.js'

export class LocalFanout implements Fanout {
  readonly ready = true
  readonly clustered = false

  constructor (private readonly connections: ConnectionManager) {}

  send (userId: string, message: OutgoingMessage): number { return this.connections.send(userId, message) }
  sendMany (messages: ReadonlyArray<readonly [string, OutgoingMessage]>): number[] {
    return messages.map(([userId, message]) => this.connections.send(userId, message))
  }

  publish (topic: string, message: OutgoingMessage): number { return this.connections.publish(topic, message) }
  broadcast (message: OutgoingMessage): number { return this.connections.broadcast(message) }
  presence (userId: string): number { return this.connections.connectionsOf(userId) }

  stats (): Stats {
    const { userCount: users, connectionCount: connections, topicCount: topics } = this.connections
    return { users, connections, topics }
  }

  acquire (): Lease { return NO_LEASE }
  async close (): Promise<void> {}
}
