-- Counts live sessions in the given shards, in total, per value of an
-- INDEXED_KEYS entry, and filed under any of its values. Expired sessions are
-- pruned first so the index sets are exact.
-- KEYS[1] a key of the first shard (routing only). ARGV: P, now, entry?
-- ('' or '='..entry), prune budget, events ('' or '='..retentionMs),
-- shard... Reply: {more (0/1), total,
-- {value, count, ...}, filed}; while more is 1 nothing was counted: call again.
local P, now = ARGV[1], tonumber(ARGV[2])
local k = opt(ARGV[3])
local budget = tonumber(ARGV[4])
local ev = eventsOf(ARGV[5], true)
for i = 6, #ARGV do
  local SP = shardPrefix(P, ARGV[i])
  local n, more = prune(SP, now, budget, ev)
  budget = budget - n
  if more then return {1, 0, {}} end
end
-- How many distinct members sorted sets of one shard hold together, through
-- a temporary key of that shard, deleted again (Lua's unpack is bounded).
local function unionSize(tmp, sets)
  redis.call('DEL', tmp)
  for i = 1, #sets, 200 do
    local last = math.min(i + 199, #sets)
    redis.call('ZUNIONSTORE', tmp, last - i + 2, tmp, unpack(sets, i, last))
  end
  local n = redis.call('ZCARD', tmp)
  redis.call('DEL', tmp)
  return n
end

-- A plain entry files a session under one value at most, so its sets are
-- disjoint; a collection entry's sessions are counted once through a union.
local collection = k and string.find(k, '[', 1, true)
local total, by, filed = 0, {}, 0
for i = 6, #ARGV do
  local SP = shardPrefix(P, ARGV[i])
  total = total + redis.call('ZCOUNT', SP .. 'all', '(' .. ARGV[2], '+inf')
  if k then
    local sets, sum = {}, 0
    for _, v in ipairs(redis.call('SMEMBERS', SP .. 'v:' .. k)) do
      local set = indexSetKey(SP, k, v)
      local n = redis.call('ZCARD', set)
      if n > 0 then
        by[#by + 1] = v
        by[#by + 1] = n
        sum = sum + n
        sets[#sets + 1] = set
      else
        redis.call('SREM', SP .. 'v:' .. k, v)
      end
    end
    if collection and #sets > 1 then sum = unionSize(SP .. 'tmp', sets) end
    filed = filed + sum
  end
end
return {0, total, by, filed}
