-- Moves a live session to a new handle in the same shard, optionally binding
-- a user, and leaves a tombstone on the old handle for the grace period.
-- KEYS[1] old hash, KEYS[2] new hash. ARGV: deadline, P, old handle, new handle, now,
-- userId? ('' or '='..userId), graceMs, events ('' or '='..retentionMs), actor.
-- Reply: {'ok', HGETALL} or an error status.
if late(ARGV[1]) then return TOO_LATE end
local P, old, new, now = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local SP = prefixOfHandle(P, old)
local ev = eventsOf(ARGV[8], true)
local m = loadLive(SP, old, now, nil, ev)
if not m then return gone(SP, old, now) end
if redis.call('EXISTS', KEYS[2]) == 1 then return {'conflict', 'a session with the new handle already exists'} end

local flat = pairsOf(m)
redis.call('ZREM', SP .. 'all', entryOf(old, m.u, m.m))
unindex(SP, old, m.u, flat)
redis.call('RENAME', KEYS[1], KEYS[2])

local userId = opt(ARGV[6])
if userId then
  m.u = userId
  redis.call('HSET', KEYS[2], '@u', userId, '@a', int(now))
end
redis.call('ZADD', SP .. 'all', tonumber(m.e), entryOf(new, m.u, m.m))
index(SP, new, m.u, flat, tonumber(m.x) - now)

local grace = tonumber(ARGV[7])
redis.call('SET', SP .. 'r:' .. old, int(now + grace), 'PX', grace)
if ev then record(ev, SP, now, 'r', old, m.u, false, new, flat, ARGV[9]) end
return {'ok', redis.call('HGETALL', KEYS[2])}
