-- Ends the sessions whose indexed key has a value, in bounded chunks.
-- KEYS[1] a key of the first shard (routing only). ARGV: deadline, P, now, key, value,
-- budget, events ('' or '='..retentionMs), actor, shard... Reply: {ended,
-- more (0/1)}: call again while more is 1.
if late(ARGV[1]) then return TOO_LATE end
local P, now, k, v = ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5]
local budget = tonumber(ARGV[6])
local ev = eventsOf(ARGV[7], true)
return revokeShards(P, now, budget, 9, ev, function(SP, left)
  return revokeSet(ev, ARGV[8], SP, indexSetKey(SP, k, v), false, now, left, SP .. 'v:' .. k, v)
end)
