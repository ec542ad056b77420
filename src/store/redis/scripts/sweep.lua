-- Ends the expired sessions of the given shards, announcing each (the sweep
-- that EVENTS_EXPIRY_LAG asks for), in bounded chunks, and trims each shard's
-- events older than the retention without blocking (MINID ~: whole stream
-- nodes only). Since the script that removes a session's entries is the one
-- that records its event, two instances sweeping at once cannot both announce it.
-- KEYS[1] a key of the first shard (routing only). ARGV: deadline, P, now,
-- events ('' or '='..retentionMs), budget, shard... Reply: {how many
-- sessions it went through, more (0/1), how many it ended, how many events
-- it trimmed}: call again while more is 1.
if late(ARGV[1]) then return TOO_LATE end
local P, now = ARGV[2], tonumber(ARGV[3])
local ev = eventsOf(ARGV[4], true)
local budget = tonumber(ARGV[5])
local seen, ended, trimmed = 0, 0, 0
for i = 6, #ARGV do
  local SP = shardPrefix(P, ARGV[i])
  if ev then trimmed = trimmed + redis.call('XTRIM', eventsKey(SP), 'MINID', '~', int(now - ev.retention)) end
  local n, more, gone = prune(SP, now, budget, ev)
  seen = seen + n
  ended = ended + gone
  budget = budget - n
  if more then return {seen, 1, ended, trimmed} end
end
return {seen, 0, ended, trimmed}
