-- Ends sessions for a reason (an expired one as expired).
-- KEYS[1] a key in the handles' slot (routing only). ARGV: deadline, P, now,
-- events ('' or '='..retentionMs), actor, reason, handle...
-- Reply: how many of them were live.
if late(ARGV[1]) then return TOO_LATE end
local P, now = ARGV[2], tonumber(ARGV[3])
local ev = eventsOf(ARGV[4], true)
local ended = 0
for i = 7, #ARGV do
  local handle = ARGV[i]
  local SP = prefixOfHandle(P, handle)
  local m = loadMeta(SP .. 's:' .. handle)
  if m then ended = ended + endFound(ev, SP, handle, m, now, ARGV[6], ARGV[5]) end
end
return ended
