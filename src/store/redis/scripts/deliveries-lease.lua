-- Renews the consumer's leases on the given shards for leaseMs and tells
-- which of the others are free (an expired lease key is gone: PX runs on
-- Redis's clock), for deliveries.ts lease to plan its fair share from. One
-- script, so that reading the holder and renewing are one step.
-- KEYS[1] a key of the first shard (routing only). ARGV: deadline, P,
-- consumer, leaseMs, shard... Reply per shard: 1 the consumer's (renewed),
-- 0 free, -1 another's.
if late(ARGV[1]) then return TOO_LATE end
local P, consumer, leaseMs = ARGV[2], ARGV[3], ARGV[4]
local states = {}
for i = 5, #ARGV do
  local key = leaseKey(shardPrefix(P, ARGV[i]))
  local holder = redis.call('GET', key)
  if holder == consumer then
    redis.call('PEXPIRE', key, leaseMs)
    states[#states + 1] = 1
  else
    states[#states + 1] = holder and -1 or 0
  end
end
return states
