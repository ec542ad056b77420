-- Hands the consumer up to `count` of the shard's events never handed out,
-- in id order (deliveries.ts handOut). A shard not prepared yet starts from
-- its first event, as the memory backend's does.
-- KEYS[1] the shard's events stream. ARGV: deadline, consumer, count (> 0).
-- Reply: entries {id, {field, value, ...}}.
if late(ARGV[1]) then return TOO_LATE end
local key = KEYS[1]
if not handedOutUpTo(key) then redis.call('XGROUP', 'CREATE', key, DELIVERY_GROUP, '0', 'MKSTREAM') end
local reply = redis.call('XREADGROUP', 'GROUP', DELIVERY_GROUP, ARGV[2], 'COUNT', ARGV[3], 'STREAMS', key, '>')
if not reply then return {} end
return reply[1][2]
