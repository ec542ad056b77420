-- Reads one data key; a touching read slides expiry when due.
-- KEYS[1] session hash. ARGV: P, handle, now, touch ('1'/'0'), touchIntervalMs, key.
-- Reply: {'ok', version, JSON text or nil} or an error status.
local P, handle, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local SP = prefixOfHandle(P, handle)
local m = loadLive(SP, handle, now)
if not m then return gone(SP, handle, now) end
if ARGV[4] == '1' and now - tonumber(m.s) >= tonumber(ARGV[5]) then refresh(SP, handle, m, now) end
return {'ok', tonumber(m.v), redis.call('HGET', KEYS[1], ARGV[6])}
