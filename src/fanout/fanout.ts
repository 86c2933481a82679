// The delivery interface the routes talk to. One process uses LocalFanout; with REDIS_URL set,
// RedisFanout carries every message through Redis pub/sub to whichever nodes hold the receivers.
import type { OutgoingMessage } from '../message.js'

export interface Stats {
  users: number
  connections: number
  topics: number
  /** Cluster mode only: this node's id and how many nodes are alive. */
  node?: string
  nodes?: number
}

/** What a receiver holds while it is reachable; released exactly once when its connection goes. */
export interface Lease {
  release: () => void
}

export interface Fanout {
  /** Each resolves with how many connections (one node) or nodes (cluster) took the message; 0 means offline. */
  send: (userId: string, message: OutgoingMessage) => number | Promise<number>
  /** Many direct messages at once (cluster: one pipelined round trip); counts in the same order. */
  sendMany: (messages: ReadonlyArray<readonly [userId: string, message: OutgoingMessage]>) => number[] | Promise<number[]>
  publish: (topic: string, message: OutgoingMessage) => number | Promise<number>
  broadcast: (message: OutgoingMessage) => number | Promise<number>
  /** Open connections of a user, across the cluster. */
  presence: (userId: string) => number | Promise<number>
  stats: () => Stats | Promise<Stats>
  /** Makes a receiver reachable before its upgrade completes, so a POST after `open` always finds it. */
  acquire: (userId: string, topics: readonly string[]) => Lease | Promise<Lease>
  /** False while a dependency (Redis) is unreachable: /ready then answers 503. */
  readonly ready: boolean
  /** True in cluster mode. */
  readonly clustered: boolean
  close: () => Promise<void>
}

export const NO_LEASE: Lease = Object.freeze({ release: () => {} })
