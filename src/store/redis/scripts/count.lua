-- Counts live sessions in the given shards, in total and per value of an
-- indexed key. Expired sessions are pruned first so the index sets are exact.
-- KEYS[1] a key of the first shard (routing only). ARGV: P, now, key?
-- ('' or '='..key), prune budget, shard... Reply: {more (0/1), total,
-- {value, count, ...}}; while more is 1 nothing was counted: call again.
local P, now = ARGV[1], tonumber(ARGV[2])
local k = opt(ARGV[3])
local budget = tonumber(ARGV[4])
for i = 5, #ARGV do
  local SP = shardPrefix(P, ARGV[i])
  local n, more = prune(SP, now, budget)
  budget = budget - n
  if more then return {1, 0, {}} end
end
local total, by = 0, {}
for i = 5, #ARGV do
  local SP = shardPrefix(P, ARGV[i])
  total = total + redis.call('ZCOUNT', SP .. 'all', '(' .. ARGV[2], '+inf')
  if k then
    for _, v in ipairs(redis.call('SMEMBERS', SP .. 'v:' .. k)) do
      local n = redis.call('ZCARD', indexSetKey(SP, k, v))
      if n > 0 then
        by[#by + 1] = v
        by[#by + 1] = n
      else
        redis.call('SREM', SP .. 'v:' .. k, v)
      end
    end
  end
end
return {0, total, by}
