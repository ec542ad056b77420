-- Helpers shared by the scripts: scripts.ts prepends to each script the
-- definitions it uses (so each top-level `local` starts in column 0).
-- Key layout: see keys.ts. P is the key prefix, SP a shard's prefix `P{t}:`;
-- times are integer milliseconds from the caller's clock. The sliding-expiry
-- rule (slideExpiry, refreshDue) is src/store/expiry.lua's.

local function shardPrefix(P, shard)
  return P .. '{' .. shard .. '}:'
end

local function prefixOfHandle(P, handle)
  return shardPrefix(P, string.sub(handle, 1, 1))
end

-- Integer text: tostring would switch to exponent form past 14 digits.
local function int(n)
  return string.format('%d', n)
end

-- Redis's clock in ms: what deadlines and the webhook consumers' registry
-- count on, whatever the instances' clocks say.
local function redisNow()
  local time = redis.call('TIME')
  return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end

-- Whether a write reached Redis after its deadline (ms on Redis's clock, see
-- deadlines.ts): then it waited in a stalled server's socket while the
-- service answered 503 for it, and must not run.
local function late(deadline)
  return redisNow() > tonumber(deadline)
end

-- A write's refusal once late: an error reply, whatever the script's reply
-- shape, that client.ts reads as store_unavailable.
local TOO_LATE = {err = 'LATE the write reached Redis after its deadline'}

-- An optional argument: '' is none, otherwise the value follows a leading '='.
local function opt(arg)
  if arg == '' then return false end
  return string.sub(arg, 2)
end

-- HMGET of the metadata fields of a session hash (data keys never start with
-- "@"), in the order loadMeta reads them, then of the `more` fields, at most
-- 200 fields a call (Lua's unpack is bounded).
local function hmgetMeta(key, more)
  local head = math.min(#more, 200 - 12)
  local values = redis.call('HMGET', key, '@v', '@u', '@a', '@c', '@s', '@e', '@x', '@i', '@g', '@p', '@b', '@m', unpack(more, 1, head))
  for i = head + 1, #more, 200 do
    for _, v in ipairs(redis.call('HMGET', key, unpack(more, i, math.min(i + 199, #more)))) do values[#values + 1] = v end
  end
  return values
end

-- The session's metadata as a table (false for absent fields) and the values
-- of the `more` fields (optional) by name, or nil when the hash does not exist.
local function loadMeta(key, more)
  more = more or {}
  local values = hmgetMeta(key, more)
  if not values[6] then return nil end
  local m = {
    v = values[1], u = values[2], a = values[3], c = values[4], s = values[5], e = values[6],
    x = values[7], i = values[8], g = values[9], p = values[10], b = values[11], m = values[12]
  }
  local current = {}
  for j, f in ipairs(more) do current[f] = values[12 + j] end
  return m, current
end

-- How many metadata fields the hash holds (m as loadMeta made it): HLEN
-- minus this is the key count.
local function metaCount(m)
  local n = 0
  for _, value in pairs(m) do
    if value then n = n + 1 end
  end
  return n
end

-- Indexed pairs are a flat list {e1, v1, e2, v2, ...} of INDEXED_KEYS entries
-- (`tenant`, `tags[]`, `cart[].sku`) and values, sorted, each pair once; @m
-- holds their JSON so the entry can be rebuilt exactly whatever INDEXED_KEYS
-- says now.
local function pairsOf(m)
  if not m.m then return {} end
  return cjson.decode(m.m)
end

-- The data key an entry reads: its name up to any `[`.
local function dataKeyOf(entry)
  return string.match(entry, '^[^%[]*')
end

-- Indexed pairs grouped by the data key whose value filed them.
local function pairsByDataKey(flat)
  local groups = {}
  for i = 1, #flat, 2 do
    local k = dataKeyOf(flat[i])
    local group = groups[k] or {}
    group[#group + 1] = flat[i]
    group[#group + 1] = flat[i + 1]
    groups[k] = group
  end
  return groups
end

-- The groups of pairsByDataKey as one sorted flat list again.
local function pairsOfGroups(groups)
  local list = {}
  for _, group in pairs(groups) do
    for i = 1, #group, 2 do list[#list + 1] = {group[i], group[i + 1]} end
  end
  table.sort(list, function(a, b) return a[1] < b[1] or (a[1] == b[1] and a[2] < b[2]) end)
  local flat = {}
  for _, pair in ipairs(list) do
    flat[#flat + 1] = pair[1]
    flat[#flat + 1] = pair[2]
  end
  return flat
end

-- Whether two flat pair lists (nil for none) are the same.
local function samePairs(a, b)
  a, b = a or {}, b or {}
  if #a ~= #b then return false end
  for i = 1, #a do
    if a[i] ~= b[i] then return false end
  end
  return true
end

-- The pair at `i` of a flat pair list as one string: entry .. NUL .. value (entry names hold no NUL).
local function pairKey(flat, i)
  return flat[i] .. '\0' .. flat[i + 1]
end

-- A flat pair list as a set of pairKey strings.
local function pairSet(flat)
  local set = {}
  for i = 1, #flat, 2 do set[pairKey(flat, i)] = true end
  return set
end

-- The session's member in its shard's `all` set, cjson.encode({handle, userId,
-- k1, v1, ...}): self-describing, so that pruning can unindex a session whose
-- hash Redis already expired. Spliced from pairsJson (@m, the pairs' JSON, or
-- false for none): the same bytes as encoding the whole entry.
local function entryOf(handle, userId, pairsJson)
  local head = cjson.encode({handle, userId})
  if not pairsJson then return head end
  return string.sub(head, 1, -2) .. ',' .. string.sub(pairsJson, 2)
end

-- Runs a variadic command over a long list in slices (Lua's unpack is bounded).
local function callSliced(command, key, list)
  for i = 1, #list, 200 do
    redis.call(command, key, unpack(list, i, math.min(i + 199, #list)))
  end
end

-- Never shortens a TTL (PEXPIRE GT is Redis 7 only).
local function extendTtl(key, ms)
  if redis.call('PTTL', key) < ms then redis.call('PEXPIRE', key, ms) end
end

local function indexSetKey(SP, k, v)
  return SP .. 'i:' .. k .. '=' .. v
end

local function addIndexEntry(SP, handle, k, v, ttl)
  local set = indexSetKey(SP, k, v)
  redis.call('ZADD', set, 0, handle)
  extendTtl(set, ttl)
  redis.call('SADD', SP .. 'v:' .. k, v)
  extendTtl(SP .. 'v:' .. k, ttl)
end

local function removeIndexEntry(SP, handle, k, v)
  local set = indexSetKey(SP, k, v)
  redis.call('ZREM', set, handle)
  if redis.call('EXISTS', set) == 0 then redis.call('SREM', SP .. 'v:' .. k, v) end
end

-- Files the session under its user and indexed values; ttl outlives its absolute expiry.
local function index(SP, handle, userId, flat, ttl)
  if userId then
    redis.call('ZADD', SP .. 'u:' .. userId, 0, handle)
    extendTtl(SP .. 'u:' .. userId, ttl)
  end
  for i = 1, #flat, 2 do addIndexEntry(SP, handle, flat[i], flat[i + 1], ttl) end
end

local function unindex(SP, handle, userId, flat)
  if userId then redis.call('ZREM', SP .. 'u:' .. userId, handle) end
  for i = 1, #flat, 2 do removeIndexEntry(SP, handle, flat[i], flat[i + 1]) end
end

-- Removes a session and every index entry of it; returns its indexed pairs.
local function drop(SP, handle, m)
  local flat = pairsOf(m)
  redis.call('ZREM', SP .. 'all', entryOf(handle, m.u, m.m))
  unindex(SP, handle, m.u, flat)
  redis.call('DEL', SP .. 's:' .. handle)
  return flat
end

-- Lifecycle events (EVENTS=true, src/store/events.ts): a script's argument
-- '' (off) or '=' .. retention in ms, as a table the event helpers share, or
-- false when off. `records` is false for the reads and writes, which record
-- nothing: they leave an expired session to a script that announces it.
local function eventsOf(arg, records)
  local retention = opt(arg)
  if not retention then return false end
  return {retention = tonumber(retention), records = records, last = {}}
end

-- The plain INDEXED_KEYS pairs (no `[`) of a flat pair list, as their JSON, or '' for none.
local function plainIndex(flat)
  local plain = {}
  for i = 1, #flat, 2 do
    if not string.find(flat[i], '[', 1, true) then
      plain[#plain + 1] = flat[i]
      plain[#plain + 1] = flat[i + 1]
    end
  end
  if #plain == 0 then return '' end
  return cjson.encode(plain)
end

-- A shard's lifecycle event stream (keys.ts eventStreamKey), which also
-- holds the webhook delivery group.
local function eventsKey(SP)
  return SP .. 'events'
end

-- An XINFO reply's flat {name, value, ...} list as a table by name.
local function infoFields(flat)
  local fields = {}
  for i = 1, #flat, 2 do fields[flat[i]] = flat[i + 1] end
  return fields
end

-- The id a stream last generated (even if trimmed since), as {ms, seq}, or nil.
local function lastStreamId(key)
  if redis.call('EXISTS', key) == 0 then return nil end
  local id = infoFields(redis.call('XINFO', 'STREAM', key))['last-generated-id']
  if not id then return nil end
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return {tonumber(ms), tonumber(seq)}
end

-- Appends an event to the shard's stream `SP events` (sweep.lua trims it by
-- the retention). Its id is `now`, or one past the shard's last when that is
-- not earlier (events.ts nextEventId). Most events are their shard's first
-- in their millisecond: the XADD of `now-0` is tried first, and the stream's
-- last id is looked up only when Redis refuses it as not after the last.
-- kind: 'c' created, 'r' rotated, 'e' ended; userId and newHandle may be false.
local function record(ev, SP, now, kind, handle, userId, reason, newHandle, flat, actor)
  local key = eventsKey(SP)
  local fields = {'t', kind, 'h', handle, 'u', userId or '', 'r', reason or '', 'n', newHandle or '', 'i', plainIndex(flat), 'a', actor}
  local last = ev.last[SP]
  if last == nil then
    local added = redis.pcall('XADD', key, int(now) .. '-0', unpack(fields))
    if type(added) ~= 'table' or not added.err then
      ev.last[SP] = {now, 0}
      return
    end
    last = lastStreamId(key)
  end
  local id
  if last and last[1] >= now then id = {last[1], last[2] + 1} else id = {now, 0} end
  ev.last[SP] = id
  redis.call('XADD', key, int(id[1]) .. '-' .. int(id[2]), unpack(fields))
end

-- Ends a session: drops it and, with events on, records why and by whom.
local function endSession(ev, SP, handle, m, now, reason, actor)
  local flat = drop(SP, handle, m)
  if ev then record(ev, SP, now, 'e', handle, m.u, reason, false, flat, actor) end
end

-- An expired session a script comes across: dropped (and announced, with
-- events on); a script that records nothing leaves it to one that does.
local function expire(ev, SP, handle, m, now)
  if not ev or ev.records then endSession(ev, SP, handle, m, now, 'expired', 'system') end
end

-- The metadata of a live session (and the values loadMeta reads with it),
-- or nil; an expired one is dropped on sight (see expire).
local function loadLive(SP, handle, now, more, ev)
  local m, current = loadMeta(SP .. 's:' .. handle, more)
  if not m then return nil end
  if tonumber(m.e) <= now then
    expire(ev, SP, handle, m, now)
    return nil
  end
  return m, current
end

-- The status of a handle that addresses no live session.
local function gone(SP, handle, now)
  local graceEnd = redis.call('GET', SP .. 'r:' .. handle)
  if graceEnd and now < tonumber(graceEnd) then
    return {'session_rotated', 'the session was rotated'}
  end
  return {'session_not_found', 'no such session'}
end

-- Slides m's expiry to `now` in place (m.s, m.e); returns the new expiry.
local function slide(m, now)
  local e = slideExpiry(now, tonumber(m.i), tonumber(m.x))
  m.s = int(now)
  m.e = int(e)
  return e
end

-- Slides expiry (due touching reads) and stores it in the hash; the all-set
-- score stays behind (see prune).
local function refresh(SP, handle, m, now)
  local e = slide(m, now)
  local key = SP .. 's:' .. handle
  redis.call('HSET', key, '@s', m.s, '@e', m.e)
  redis.call('PEXPIRE', key, e - now)
end

-- Goes through up to `budget` members of the shard's all set whose score has
-- passed; returns how many, whether such members remain, and how many
-- sessions it ended. Each session it
-- ends is announced as expired when `ev` (eventsOf) is on. A score is the
-- session's expiry when its member was last written, so that touching uses
-- need not rebuild the member: a session whose hash holds a later expiry is
-- live and gets that as its score; any other is ended.
local function prune(SP, now, budget, ev)
  if budget <= 0 then return 0, redis.call('ZCOUNT', SP .. 'all', '-inf', now) > 0, 0 end
  local entries = redis.call('ZRANGEBYSCORE', SP .. 'all', '-inf', now, 'LIMIT', 0, budget)
  local ended = 0
  for _, entry in ipairs(entries) do
    local e = cjson.decode(entry)
    local expiresAt = tonumber(redis.call('HGET', SP .. 's:' .. e[1], '@e'))
    if expiresAt and expiresAt > now then
      redis.call('ZADD', SP .. 'all', expiresAt, entry)
    else
      local flat = {}
      for i = 3, #e do flat[#flat + 1] = e[i] end
      redis.call('ZREM', SP .. 'all', entry)
      unindex(SP, e[1], e[2], flat)
      redis.call('DEL', SP .. 's:' .. e[1])
      if ev then record(ev, SP, now, 'e', e[1], e[2], 'expired', false, flat, 'system') end
      ended = ended + 1
    end
  end
  local more = #entries == budget and redis.call('ZCOUNT', SP .. 'all', '-inf', now) > 0
  return #entries, more, ended
end

-- A listing row: handle then the public metadata, in the order replies.ts reads it.
local function row(handle, m)
  return {handle, m.v, m.u, m.a, m.c, m.s, m.e, m.x, m.g, m.p}
end

-- Ends a session found by handle for `actor` and `reason`, or as expired
-- when it is; returns 1 when it was live.
local function endFound(ev, SP, handle, m, now, reason, actor)
  if tonumber(m.e) > now then
    endSession(ev, SP, handle, m, now, reason, actor)
    return 1
  end
  endSession(ev, SP, handle, m, now, 'expired', 'system')
  return 0
end

-- Ends up to `budget` sessions listed in `set` (skipping `except`) as
-- revoked by `actor`; returns how many live ones it ended, how much budget
-- it used, whether any remain. `valueSet`/`value` name the v: entry to drop
-- once an index set empties.
local function revokeSet(ev, actor, SP, set, except, now, budget, valueSet, value)
  local ended, used = 0, 0
  if budget > 0 then
    for _, h in ipairs(redis.call('ZRANGE', set, 0, budget)) do
      if h ~= except and used < budget then
        used = used + 1
        local m = loadMeta(SP .. 's:' .. h)
        if m then
          ended = ended + endFound(ev, SP, h, m, now, 'revoked', actor)
        else
          redis.call('ZREM', set, h)
        end
      end
    end
  end
  local left = redis.call('ZCARD', set)
  if except and redis.call('ZSCORE', set, except) then left = left - 1 end
  if left == 0 and valueSet then redis.call('SREM', valueSet, value) end
  return ended, used, left > 0
end

-- The revoking scripts' walk over the shards named from ARGV[first] on: each
-- pruned, then `revokeIn(SP, budget)` (a revokeSet call) within what is left
-- of one budget. Returns the script's reply {ended, more (0/1)}.
local function revokeShards(P, now, budget, first, ev, revokeIn)
  local ended = 0
  for i = first, #ARGV do
    local SP = shardPrefix(P, ARGV[i])
    budget = budget - prune(SP, now, budget, ev)
    local n, used, more = revokeIn(SP, budget)
    ended = ended + n
    budget = budget - used
    if more then return {ended, 1} end
  end
  return {ended, 0}
end

-- Webhook delivery state (src/store/deliveries.ts): the consumer group on each
-- shard's events stream holds what was handed out and what of it is not
-- acknowledged; the lease key names the consumer delivering the shard now.
local DELIVERY_GROUP = 'webhooks'

local function leaseKey(SP)
  return SP .. 'webhook'
end

-- The delivery group's last-delivered-id on the stream (the newest event
-- handed out), or nil where the group or the stream does not exist yet.
local function handedOutUpTo(key)
  if redis.call('EXISTS', key) == 0 then return nil end
  for _, group in ipairs(redis.call('XINFO', 'GROUPS', key)) do
    local fields = infoFields(group)
    if fields['name'] == DELIVERY_GROUP then return fields['last-delivered-id'] end
  end
  return nil
end

-- The stream's first kept entry id, or nil when it holds none.
local function firstKeptId(key)
  local first = redis.call('XRANGE', key, '-', '+', 'COUNT', 1)[1]
  return first and first[1]
end
