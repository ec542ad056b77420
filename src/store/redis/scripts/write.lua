-- Applies a batch of data writes atomically: all checks before any write.
-- KEYS[1] session hash. ARGV: deadline, P, handle, now, touch ('1'/'0'), ifMatch?
-- ('' or '='..version), maxKeys, maxSessionBytes, reply ('version'/'record'),
-- nSet, nDel, nIncr, events ('' or '='..retentionMs: an expired session is
-- left to the sweep), then nSet x (key, JSON text, what it files the session
-- under: '' for nothing, else the JSON of its flat pairs), nDel x key,
-- nIncr x (key, by, '1' when the key itself is an INDEXED_KEYS entry).
-- Reply: {'ok', version} or {'ok', HGETALL}, or an error status.
if late(ARGV[1]) then return TOO_LATE end
local P, handle, now = ARGV[2], ARGV[3], tonumber(ARGV[4])
local SP = prefixOfHandle(P, handle)
local key = KEYS[1]

local nSet, nDel, nIncr = tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12])
local setAt, delAt, incrAt = 14, 14 + 3 * nSet, 14 + 3 * nSet + nDel
local names = {}
for i = 0, nSet - 1 do names[#names + 1] = ARGV[setAt + 3 * i] end
for i = 0, nDel - 1 do names[#names + 1] = ARGV[delAt + i] end
for i = 0, nIncr - 1 do names[#names + 1] = ARGV[incrAt + 3 * i] end
local m, current = loadLive(SP, handle, now, names, eventsOf(ARGV[13], false))
if not m then return gone(SP, handle, now) end

local ifMatch = opt(ARGV[6])
if ifMatch and tonumber(ifMatch) ~= tonumber(m.v) then
  return {'precondition_failed', 'the session is at version ' .. m.v .. ', not ' .. ifMatch}
end

local keys = redis.call('HLEN', key) - metaCount(m)
local bytes = tonumber(m.b)
local oldFlat = pairsOf(m)
-- What each data key's value files the session under, as it will be.
local filed = pairsByDataKey(oldFlat)
-- Whether any indexed pair may change: only then is the entry rebuilt.
local reindex = false
-- Every field set and deleted, metadata included: one HSET and one HDEL.
local writes, deletes = {}, {}

-- Storing the text a key already holds changes nothing (no version step).
local function put(k, text, filing)
  local old = current[k]
  if old == text then return end
  if old then bytes = bytes - #k - #old else keys = keys + 1 end
  bytes = bytes + #k + #text
  writes[#writes + 1] = k
  writes[#writes + 1] = text
  if not samePairs(filed[k], filing) then reindex = true end
  filed[k] = filing
end

for i = 0, nSet - 1 do
  local at = setAt + 3 * i
  local filing = nil
  if ARGV[at + 2] ~= '' then filing = cjson.decode(ARGV[at + 2]) end
  put(ARGV[at], ARGV[at + 1], filing)
end
for i = 0, nDel - 1 do
  local k = ARGV[delAt + i]
  local old = current[k]
  if old then
    keys = keys - 1
    bytes = bytes - #k - #old
    deletes[#deletes + 1] = k
  end
  if filed[k] then reindex = true end
  filed[k] = nil
end
for i = 0, nIncr - 1 do
  local at = incrAt + 3 * i
  local k = ARGV[at]
  -- Mirrors rules.incrementText: JSON number texts are also Lua number texts.
  local base = 0
  if current[k] then base = tonumber(current[k]) end
  if not base or math.floor(base) ~= base or math.abs(base) > 9007199254740991 then
    return {'conflict', '"' .. k .. '" does not hold an integer'}
  end
  local sum = base + tonumber(ARGV[at + 1])
  if math.abs(sum) > 9007199254740991 then
    return {'conflict', '"' .. k .. '" would leave the safe integer range'}
  end
  local text = int(sum)
  local filing = nil
  if ARGV[at + 2] == '1' then filing = {k, text} end
  put(k, text, filing)
end

if keys > tonumber(ARGV[7]) then
  return {'payload_too_large', 'a session holds at most ' .. ARGV[7] .. ' keys'}
end
if bytes > tonumber(ARGV[8]) then
  return {'payload_too_large', 'a session holds at most ' .. ARGV[8] .. ' bytes of data'}
end

if #writes > 0 or #deletes > 0 then
  m.v = int(tonumber(m.v) + 1)
  writes[#writes + 1] = '@v'
  writes[#writes + 1] = m.v
  writes[#writes + 1] = '@b'
  writes[#writes + 1] = bytes
end

-- The all-set member to replace, when the indexed pairs change.
local oldEntry = false
if reindex then
  local newFlat = pairsOfGroups(filed)
  local newJson = #newFlat > 0 and cjson.encode(newFlat)
  if newJson ~= m.m then
    local before, after = pairSet(oldFlat), pairSet(newFlat)
    for i = 1, #oldFlat, 2 do
      if not after[pairKey(oldFlat, i)] then removeIndexEntry(SP, handle, oldFlat[i], oldFlat[i + 1]) end
    end
    for i = 1, #newFlat, 2 do
      if not before[pairKey(newFlat, i)] then addIndexEntry(SP, handle, newFlat[i], newFlat[i + 1], tonumber(m.x) - now) end
    end
    oldEntry = entryOf(handle, m.u, m.m)
    if newJson then
      writes[#writes + 1] = '@m'
      writes[#writes + 1] = newJson
    else
      deletes[#deletes + 1] = '@m'
    end
    m.m = newJson
  end
end
local touch = ARGV[5] == '1'
local e = tonumber(m.e)
if touch then
  e = slide(m, now)
  writes[#writes + 1] = '@s'
  writes[#writes + 1] = m.s
  writes[#writes + 1] = '@e'
  writes[#writes + 1] = m.e
end

if #writes > 0 then callSliced('HSET', key, writes) end
if #deletes > 0 then callSliced('HDEL', key, deletes) end
if touch then redis.call('PEXPIRE', key, e - now) end
if oldEntry then
  redis.call('ZREM', SP .. 'all', oldEntry)
  redis.call('ZADD', SP .. 'all', e, entryOf(handle, m.u, m.m))
end

if ARGV[9] == 'record' then return {'ok', redis.call('HGETALL', key)} end
return {'ok', tonumber(m.v)}
