-- Acknowledges the shard's events (deliveries.ts acknowledge): they leave
-- the delivery group's pending list; ids not pending change nothing.
-- KEYS[1] the shard's events stream. ARGV: deadline, id... Reply: how many were pending.
if late(ARGV[1]) then return TOO_LATE end
local acknowledged = 0
for i = 2, #ARGV do
  acknowledged = acknowledged + redis.call('XACK', KEYS[1], DELIVERY_GROUP, ARGV[i])
end
return acknowledged
