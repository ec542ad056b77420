-- Ends sessions. KEYS[1] a key in the handles' slot (routing only).
-- ARGV: P, now, handle... Reply: how many of them were live.
local P, now = ARGV[1], tonumber(ARGV[2])
local ended = 0
for i = 3, #ARGV do
  local handle = ARGV[i]
  local SP = prefixOfHandle(P, handle)
  local m = loadMeta(SP .. 's:' .. handle)
  if m then
    if tonumber(m.e) > now then ended = ended + 1 end
    drop(SP, handle, m)
  end
end
return ended
