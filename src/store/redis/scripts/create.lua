-- Creates a session (version 1) and files it in its shard's indexes.
-- KEYS[1] session hash. ARGV: deadline, P, handle, now, idleTtlMs, absoluteTtlMs,
-- userId?, userAgent?, ip? (optional: '' or '='..value), data bytes,
-- prune budget, events ('' or '='..retentionMs), actor, entry count n,
-- n x (key, JSON text), then the indexed pairs (key, value, ...) sorted by key.
if late(ARGV[1]) then return TOO_LATE end
local P, handle, now = ARGV[2], ARGV[3], tonumber(ARGV[4])
local idle, absolute = tonumber(ARGV[5]), tonumber(ARGV[6])
local userId = opt(ARGV[7])
local SP = prefixOfHandle(P, handle)
local key = KEYS[1]
local ev = eventsOf(ARGV[12], true)

prune(SP, now, tonumber(ARGV[11]), ev)
local existing = loadLive(SP, handle, now, nil, ev)
if existing then return {'conflict', 'a session with this handle already exists'} end

local x = now + absolute
local e = slideExpiry(now, idle, x)
local fields = {'@v', 1, '@c', int(now), '@s', int(now), '@e', int(e), '@x', int(x), '@i', int(idle), '@b', ARGV[10]}
if userId then
  fields[#fields + 1] = '@u'
  fields[#fields + 1] = userId
  fields[#fields + 1] = '@a'
  fields[#fields + 1] = int(now)
end
local userAgent, ip = opt(ARGV[8]), opt(ARGV[9])
if userAgent then
  fields[#fields + 1] = '@g'
  fields[#fields + 1] = userAgent
end
if ip then
  fields[#fields + 1] = '@p'
  fields[#fields + 1] = ip
end
local n = tonumber(ARGV[14])
for i = 15, 14 + 2 * n do fields[#fields + 1] = ARGV[i] end
local flat = {}
for i = 15 + 2 * n, #ARGV do flat[#flat + 1] = ARGV[i] end
local pairsJson = #flat > 0 and cjson.encode(flat)
if pairsJson then
  fields[#fields + 1] = '@m'
  fields[#fields + 1] = pairsJson
end

callSliced('HSET', key, fields)
redis.call('PEXPIRE', key, e - now)
redis.call('ZADD', SP .. 'all', e, entryOf(handle, userId, pairsJson))
index(SP, handle, userId, flat, x - now)
if ev then record(ev, SP, now, 'c', handle, userId, false, false, flat, ARGV[13]) end
return {'ok'}
