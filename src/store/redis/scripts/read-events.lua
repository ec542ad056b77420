-- Reads the given shards' event streams. KEYS[1] a key of the first shard
-- (routing only). ARGV: P, how many (0: only each stream's newest id), then
-- per shard: shard, after ('' from the oldest kept, else '='..id, exclusive).
-- Reply per shard: up to `how many` entries {id, {field, value, ...}}, or
-- with 0 the newest id (false for none).
local P, want = ARGV[1], tonumber(ARGV[2])
local replies = {}
for i = 3, #ARGV, 2 do
  local key = eventsKey(shardPrefix(P, ARGV[i]))
  if want == 0 then
    local newest = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)[1]
    replies[#replies + 1] = newest and newest[1] or false
  else
    local after = opt(ARGV[i + 1])
    replies[#replies + 1] = redis.call('XRANGE', key, after and '(' .. after or '-', '+', 'COUNT', want)
  end
end
return replies
