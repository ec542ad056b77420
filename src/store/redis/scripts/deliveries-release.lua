-- Gives up the consumer's leases on the given shards, so that another
-- consumer takes them at once (deliveries.ts release, and lease for those
-- past its fair share); a lease another consumer holds stays.
-- KEYS[1] a key of the first shard (routing only). ARGV: deadline, P,
-- consumer, shard... Reply: how many it gave up.
if late(ARGV[1]) then return TOO_LATE end
local P, consumer = ARGV[2], ARGV[3]
local released = 0
for i = 4, #ARGV do
  local key = leaseKey(shardPrefix(P, ARGV[i]))
  if redis.call('GET', key) == consumer then
    redis.call('DEL', key)
    released = released + 1
  end
end
return released
