-- Ends the expired sessions of the given shards, announcing each (the sweep
-- that EVENTS_EXPIRY_LAG asks for), in bounded chunks. Since the script
-- that removes a session's entries is the one that records its event, two
-- instances sweeping at once cannot both announce it.
-- KEYS[1] a key of the first shard (routing only). ARGV: deadline, P, now,
-- events ('' or '='..retentionMs), budget, shard... Reply: {how many
-- sessions it went through, more (0/1)}: call again while more is 1.
if late(ARGV[1]) then return TOO_LATE end
local P, now = ARGV[2], tonumber(ARGV[3])
local ev = eventsOf(ARGV[4], true)
local budget = tonumber(ARGV[5])
local seen = 0
for i = 6, #ARGV do
  local n, more = prune(shardPrefix(P, ARGV[i]), now, budget, ev)
  seen = seen + n
  budget = budget - n
  if more then return {seen, 1} end
end
return {seen, 0}
