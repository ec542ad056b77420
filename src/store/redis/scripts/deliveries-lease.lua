-- Renews the consumer's leases on the given shards and takes the free ones
-- (an expired lease key is gone: PX runs on Redis's clock), each for
-- leaseMs (deliveries.ts lease). One script, so that reading the holder and
-- setting it are one step.
-- KEYS[1] a key of the first shard (routing only). ARGV: deadline, P,
-- consumer, leaseMs, shard... Reply: the shards the consumer holds, in order.
if late(ARGV[1]) then return TOO_LATE end
local P, consumer, leaseMs = ARGV[2], ARGV[3], ARGV[4]
local held = {}
for i = 5, #ARGV do
  local key = leaseKey(shardPrefix(P, ARGV[i]))
  local holder = redis.call('GET', key)
  if holder == consumer then
    redis.call('PEXPIRE', key, leaseMs)
  elseif not holder then
    redis.call('SET', key, consumer, 'PX', leaseMs)
  end
  if not holder or holder == consumer then held[#held + 1] = ARGV[i] end
end
return held
