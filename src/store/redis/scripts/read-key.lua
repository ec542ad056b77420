-- Reads one data key; a touching read slides expiry when due.
-- KEYS[1] session hash. ARGV: P, handle, now, touch ('1'/'0'), touchIntervalMs, key,
-- events ('' or '='..retentionMs: an expired session is left to the sweep).
-- Reply: {'ok', version, JSON text or nil} or an error status.
local P, handle, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local SP = prefixOfHandle(P, handle)
-- The value comes with the metadata, in one HMGET.
local m, current = loadLive(SP, handle, now, {ARGV[6]}, eventsOf(ARGV[7], false))
if not m then return gone(SP, handle, now) end
if ARGV[4] == '1' and refreshDue(now, tonumber(m.s), tonumber(ARGV[5])) then refresh(SP, handle, m, now) end
return {'ok', tonumber(m.v), current[ARGV[6]]}
