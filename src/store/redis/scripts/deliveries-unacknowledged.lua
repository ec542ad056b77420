-- Re-takes for the consumer up to `count` of the shard's events handed out
-- and not acknowledged, after `after`, in id order (deliveries.ts
-- unacknowledged). Min-idle 0: the caller holds the shard's lease, so no
-- other consumer delivers them now. Pending entries the retention trimmed
-- (all before the first kept entry: trimming only cuts the oldest) are
-- acknowledged first, so they are forgotten on 6.2 too, where XAUTOCLAIM
-- would keep them pending and return them without fields. Consumers left
-- with nothing pending are dropped.
-- KEYS[1] the shard's events stream. ARGV: deadline, consumer, after (''
-- or '=' .. id, exclusive), count (> 0). Reply: entries {id, {field, value, ...}}.
if late(ARGV[1]) then return TOO_LATE end
local key, consumer, after, count = KEYS[1], ARGV[2], opt(ARGV[3]), tonumber(ARGV[4])
if not handedOutUpTo(key) then return {} end
local first = firstKeptId(key)
local trimmed
repeat
  trimmed = redis.call('XPENDING', key, DELIVERY_GROUP, '-', first and '(' .. first or '+', 200)
  for _, entry in ipairs(trimmed) do redis.call('XACK', key, DELIVERY_GROUP, entry[1]) end
until #trimmed < 200
-- XAUTOCLAIM's start is inclusive: the id right after `after`.
local start = '0-0'
if after then
  local ms, seq = string.match(after, '^(%d+)-(%d+)$')
  start = ms .. '-' .. int(tonumber(seq) + 1)
end
local taken = {}
repeat
  local reply = redis.call('XAUTOCLAIM', key, DELIVERY_GROUP, consumer, 0, start, 'COUNT', count - #taken)
  for _, entry in ipairs(reply[2]) do taken[#taken + 1] = entry end
  start = reply[1]
until #taken >= count or start == '0-0'
-- Other consumers left holding nothing are dropped, so that the group does
-- not keep every instance that ever delivered the shard (one that reads
-- again is made anew).
for _, other in ipairs(redis.call('XINFO', 'CONSUMERS', key, DELIVERY_GROUP)) do
  local fields = infoFields(other)
  if fields['pending'] == 0 and fields['name'] ~= consumer then
    redis.call('XGROUP', 'DELCONSUMER', key, DELIVERY_GROUP, fields['name'])
  end
end
return taken
