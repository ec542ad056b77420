-- Takes for the consumer those of the given shards still free, for leaseMs
-- (deliveries.ts lease, within its fair share): a shard another consumer took
-- since it was seen free stays theirs, so that of two consumers trying one
-- shard only one gets it.
-- KEYS[1] a key of the first shard (routing only). ARGV: deadline, P,
-- consumer, leaseMs, shard... Reply: the shards it took.
if late(ARGV[1]) then return TOO_LATE end
local P, consumer, leaseMs = ARGV[2], ARGV[3], ARGV[4]
local taken = {}
for i = 5, #ARGV do
  if redis.call('SET', leaseKey(shardPrefix(P, ARGV[i])), consumer, 'NX', 'PX', leaseMs) then taken[#taken + 1] = ARGV[i] end
end
return taken
