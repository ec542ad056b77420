-- Ends sessions. KEYS[1] a key in the handles' slot (routing only).
-- ARGV: deadline, P, now, handle... Reply: how many of them were live.
if late(ARGV[1]) then return TOO_LATE end
local P, now = ARGV[2], tonumber(ARGV[3])
local ended = 0
for i = 4, #ARGV do
  local handle = ARGV[i]
  local SP = prefixOfHandle(P, handle)
  local m = loadMeta(SP .. 's:' .. handle)
  if m then
    if tonumber(m.e) > now then ended = ended + 1 end
    drop(SP, handle, m)
  end
end
return ended
