// Cluster-wide presence in Redis, kept by Lua scripts so each change is atomic.
//   pushwire:presence            hash  userId -> open connections in the cluster
//   pushwire:topics              hash  topic  -> connections holding it
//   pushwire:connections         int   open connections in the cluster
//   pushwire:node-deadlines      zset  <id> -> when it is reaped unless it beats again (ms, Redis's clock)
//   pushwire:node:<id>:users     hash  that node's share of pushwire:presence (its ledger)
//   pushwire:node:<id>:topics    hash  that node's share of pushwire:topics
// <id> is NODE_ID#<random>, one per process (see RedisFanout's #ledger).
// A node that stops beating is reaped by the others: its ledger is subtracted and deleted. Each node sets its own
// deadline by its own NODE_TTL_MS, on Redis's clock, so nodes with other TTLs or clocks that disagree never reap a
// live one. (The key was pushwire:nodes, holding each node's last beat by its own clock; it was renamed so a node of
// that version and one of this never read each other's scores.)

const PRELUDE = `
local P = 'pushwire:'
local NODES = P .. 'node-deadlines'
-- Milliseconds on Redis's clock, the one clock every node shares.
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function add(global, ledger, field, delta)
  if redis.call('HINCRBY', ledger, field, delta) <= 0 then redis.call('HDEL', ledger, field) end
  if redis.call('HINCRBY', global, field, delta) <= 0 then redis.call('HDEL', global, field) end
end
local function addConnections(delta)
  if redis.call('INCRBY', P .. 'connections', delta) < 0 then redis.call('SET', P .. 'connections', 0) end
end
local function reap(node, set)
  local base = P .. 'node:' .. node
  local users = redis.call('HGETALL', base .. ':users')
  local total = 0
  for i = 1, #users, 2 do
    local n = tonumber(users[i + 1])
    total = total + n
    if redis.call('HINCRBY', P .. 'presence', users[i], -n) <= 0 then redis.call('HDEL', P .. 'presence', users[i]) end
  end
  local topics = redis.call('HGETALL', base .. ':topics')
  for i = 1, #topics, 2 do
    if redis.call('HINCRBY', P .. 'topics', topics[i], -tonumber(topics[i + 1])) <= 0 then redis.call('HDEL', P .. 'topics', topics[i]) end
  end
  if total > 0 then addConnections(-total) end
  redis.call('DEL', base .. ':users', base .. ':topics')
  redis.call('ZREM', set or NODES, node)
end
`

/** ARGV: node, delta (+1/-1), userId, topic… A release whose connect was never counted changes nothing. */
export const CONNECTION_SCRIPT = PRELUDE + `
local node, delta, user = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local base = P .. 'node:' .. node
if delta < 0 and redis.call('HEXISTS', base .. ':users', user) == 0 then return 0 end
add(P .. 'presence', base .. ':users', user, delta)
for i = 4, #ARGV do add(P .. 'topics', base .. ':topics', ARGV[i], delta) end
addConnections(delta)
return 1
`

/**
 * ARGV: node, silentMs. Reaps the nodes past their deadline, then moves this node's to silentMs from now; returns
 * {wasMissing, the ids of the nodes reaped}.
 */
export const HEARTBEAT_SCRIPT = PRELUDE + `
local node, silent, t = ARGV[1], tonumber(ARGV[2]), now()
local reaped = {}
for _, other in ipairs(redis.call('ZRANGEBYSCORE', NODES, '-inf', '(' .. t)) do
  if other ~= node then reap(other); reaped[#reaped + 1] = other end
end
-- Nodes of the version before deadlines keep their last beat, by their own clock, under pushwire:nodes. One silent
-- for a minute died during an upgrade; nothing else would ever take its share out of presence.
for _, old in ipairs(redis.call('ZRANGEBYSCORE', P .. 'nodes', '-inf', '(' .. (t - 60000))) do
  reap(old, P .. 'nodes'); reaped[#reaped + 1] = old
end
return { redis.call('ZADD', NODES, t + silent, node), reaped }
`

/** ARGV: node, silentMs, userCount, (user, n)…, (topic, n)…: replaces this node's whole share with the given state. */
export const SYNC_SCRIPT = PRELUDE + `
local node, silent, userPairs = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local base = P .. 'node:' .. node
reap(node)
local total = 0
for i = 4, 3 + userPairs * 2, 2 do
  add(P .. 'presence', base .. ':users', ARGV[i], tonumber(ARGV[i + 1]))
  total = total + tonumber(ARGV[i + 1])
end
for i = 4 + userPairs * 2, #ARGV, 2 do add(P .. 'topics', base .. ':topics', ARGV[i], tonumber(ARGV[i + 1])) end
if total > 0 then addConnections(total) end
redis.call('ZADD', NODES, now() + silent, node)
return total
`

/** ARGV: node. Removes this node and its share at once (graceful shutdown). */
export const LEAVE_SCRIPT = PRELUDE + `
reap(ARGV[1])
return 1
`

export const KEYS = {
  presence: 'pushwire:presence',
  topics: 'pushwire:topics',
  connections: 'pushwire:connections',
  nodes: 'pushwire:node-deadlines'
}
