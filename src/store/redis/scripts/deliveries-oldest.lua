-- Each given shard's oldest event not delivered yet (deliveries.ts
-- oldestUndelivered): the oldest pending entry still kept, else the first
-- entry after the group's last-delivered-id (every pending id is at most
-- that, so a kept pending one is the older). A shard not prepared yet
-- counts from its first event, where handOut would start.
-- KEYS[1] a key of the first shard (routing only). ARGV: P, shard...
-- Reply per shard: the id, or false when nothing waits.
local P = ARGV[1]
local oldest = {}
for i = 2, #ARGV do
  local key = eventsKey(shardPrefix(P, ARGV[i]))
  local upTo = handedOutUpTo(key)
  local first = firstKeptId(key)
  local pending = upTo and first and redis.call('XPENDING', key, DELIVERY_GROUP, first, '+', 1)[1]
  local fresh = redis.call('XRANGE', key, upTo and '(' .. upTo or '-', '+', 'COUNT', 1)[1]
  oldest[#oldest + 1] = (pending and pending[1]) or (fresh and fresh[1]) or false
end
return oldest
