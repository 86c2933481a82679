// Cluster-wide presence in Redis, kept by Lua scripts so each change is atomic.
//   pushwire:presence            hash  userId -> open connections in the cluster
//   pushwire:topics              hash  topic  -> connections holding it
//   pushwire:connections         int   open connections in the cluster
//   pushwire:nodes               zset  nodeId -> last heartbeat (ms)
//   pushwire:node:<id>:users     hash  that node's share of pushwire:presence (its ledger)
//   pushwire:node:<id>:topics    hash  that node's share of pushwire:topics
// A node that stops beating is reaped by the others: its ledger is subtracted and deleted.

const PRELUDE = `
local P = 'pushwire:'
local function add(global, ledger, field, delta)
  if redis.call('HINCRBY', ledger, field, delta) <= 0 then redis.call('HDEL', ledger, field) end
  if redis.call('HINCRBY', global, field, delta) <= 0 then redis.call('HDEL', global, field) end
end
local function addConnections(delta)
  if redis.call('INCRBY', P .. 'connections', delta) < 0 then redis.call('SET', P .. 'connections', 0) end
end
local function reap(node)
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
  redis.call('ZREM', P .. 'nodes', node)
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

/** ARGV: node, now, deadBefore. Beats for this node, reaps nodes silent since deadBefore; returns {wasMissing, reaped}. */
export const HEARTBEAT_SCRIPT = PRELUDE + `
local node, now, deadBefore = ARGV[1], ARGV[2], ARGV[3]
local reaped = 0
for _, other in ipairs(redis.call('ZRANGEBYSCORE', P .. 'nodes', '-inf', '(' .. deadBefore)) do
  if other ~= node then reap(other); reaped = reaped + 1 end
end
return { redis.call('ZADD', P .. 'nodes', now, node), reaped }
`

/** ARGV: node, now, userCount, (user, n)…, (topic, n)…: replaces this node's whole share with the given state. */
export const SYNC_SCRIPT = PRELUDE + `
local node, now, userPairs = ARGV[1], ARGV[2], tonumber(ARGV[3])
local base = P .. 'node:' .. node
reap(node)
local total = 0
for i = 4, 3 + userPairs * 2, 2 do
  add(P .. 'presence', base .. ':users', ARGV[i], tonumber(ARGV[i + 1]))
  total = total + tonumber(ARGV[i + 1])
end
for i = 4 + userPairs * 2, #ARGV, 2 do add(P .. 'topics', base .. ':topics', ARGV[i], tonumber(ARGV[i + 1])) end
if total > 0 then addConnections(total) end
redis.call('ZADD', P .. 'nodes', now, node)
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
  nodes: 'pushwire:nodes'
}
