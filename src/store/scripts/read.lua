-- Reads a whole session; a touching read slides its expiry when due.
-- KEYS[1] session hash. ARGV: P, handle, now, touch ('1'/'0'), touchIntervalMs.
-- Reply: {'ok', HGETALL} (with the refreshed @s/@e) or an error status.
local P, handle, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local SP = prefixOfHandle(P, handle)
local flat = redis.call('HGETALL', KEYS[1])
if #flat == 0 then return gone(SP, handle, now) end

local m = {}
for i = 1, #flat, 2 do
  local f = flat[i]
  if string.sub(f, 1, 1) == '@' then m[string.sub(f, 2)] = flat[i + 1] end
end
for _, name in ipairs(META_NAMES) do m[name] = m[name] or false end
if tonumber(m.e) <= now then
  drop(SP, handle, m)
  return gone(SP, handle, now)
end

if ARGV[4] == '1' and now - tonumber(m.s) >= tonumber(ARGV[5]) then
  refresh(SP, handle, m, now)
  for i = 1, #flat, 2 do
    if flat[i] == '@s' then flat[i + 1] = m.s elseif flat[i] == '@e' then flat[i + 1] = m.e end
  end
end
return {'ok', flat}
