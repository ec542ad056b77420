-- Starts webhook delivery at each given shard's newest event where the
-- delivery group does not exist yet (deliveries.ts prepare): `$` is the
-- stream's last generated id, trimmed or not, and MKSTREAM makes a stream
-- for a shard that has recorded nothing yet.
-- KEYS[1] a key of the first shard (routing only). ARGV: deadline, P,
-- shard... Reply: how many groups it created.
if late(ARGV[1]) then return TOO_LATE end
local P = ARGV[2]
local created = 0
for i = 3, #ARGV do
  local key = eventsKey(shardPrefix(P, ARGV[i]))
  if not handedOutUpTo(key) then
    redis.call('XGROUP', 'CREATE', key, DELIVERY_GROUP, '$', 'MKSTREAM')
    created = created + 1
  end
end
return created
