-- Ends a user's sessions in the given shards, except one, in bounded chunks.
-- KEYS[1] a key of the first shard (routing only). ARGV: deadline, P, now, userId,
-- except? ('' or '='..handle), budget, events ('' or '='..retentionMs), actor,
-- shard... Reply: {ended, more (0/1)}:
-- call again while more is 1.
if late(ARGV[1]) then return TOO_LATE end
local P, now, userId = ARGV[2], tonumber(ARGV[3]), ARGV[4]
local except = opt(ARGV[5])
local budget = tonumber(ARGV[6])
local ev = eventsOf(ARGV[7], true)
return revokeShards(P, now, budget, 9, ev, function(SP, left)
  return revokeSet(ev, ARGV[8], SP, SP .. 'u:' .. userId, except, now, left)
end)
