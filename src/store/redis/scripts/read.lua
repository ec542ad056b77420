-- Reads a whole session; a touching read slides its expiry when due.
-- KEYS[1] session hash. ARGV: P, handle, now, touch ('1'/'0'), touchIntervalMs,
-- events ('' or '='..retentionMs: an expired session is left to the sweep).
-- Reply: {'ok', HGETALL} (with the refreshed @s/@e) or an error status.
local P, handle, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local SP = prefixOfHandle(P, handle)
local flat = redis.call('HGETALL', KEYS[1])
if #flat == 0 then return gone(SP, handle, now) end

-- In one pass over the reply: the metadata a read uses, and where @s/@e sit
-- so that a refresh can patch the reply.
local atS, atE, idle, x, u, pairsJson
for i = 2, #flat, 2 do
  local f = flat[i - 1]
  if f == '@e' then atE = i
  elseif f == '@s' then atS = i
  elseif f == '@i' then idle = flat[i]
  elseif f == '@x' then x = flat[i]
  elseif f == '@u' then u = flat[i]
  elseif f == '@m' then pairsJson = flat[i]
  end
end
local m = {s = flat[atS], e = flat[atE], i = idle, x = x, u = u or false, m = pairsJson or false}
if tonumber(m.e) <= now then
  expire(eventsOf(ARGV[6], false), SP, handle, m, now)
  return gone(SP, handle, now)
end

if ARGV[4] == '1' and refreshDue(now, tonumber(m.s), tonumber(ARGV[5])) then
  refresh(SP, handle, m, now)
  flat[atS] = m.s
  flat[atE] = m.e
end
return {'ok', flat}
