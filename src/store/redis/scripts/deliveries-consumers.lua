-- Registers a webhook consumer as live for leaseMs, or takes it off with 0
-- (deliveries.ts lease and release), and counts the live ones, whose fair
-- share of the shards the lease then takes. Scores are until when each is
-- live, on Redis's clock; the expired are dropped first, and the key expires
-- with its last member, so that consumers that came and went leave nothing.
-- KEYS[1] the registry (keys.ts webhookConsumersKey). ARGV: deadline,
-- consumer, leaseMs (0: no longer live). Reply: how many consumers are live.
if late(ARGV[1]) then return TOO_LATE end
local key, consumer, leaseMs = KEYS[1], ARGV[2], tonumber(ARGV[3])
local now = redisNow()
redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
if leaseMs > 0 then
  redis.call('ZADD', key, now + leaseMs, consumer)
else
  redis.call('ZREM', key, consumer)
end
local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')[2]
if last then redis.call('PEXPIREAT', key, last) end
return redis.call('ZCARD', key)
