-- Live sessions whose indexed key has a value, in handle order after a cursor.
-- KEYS[1] a key of the first shard (routing only). ARGV: P, now, key, value,
-- cursor? ('' or '='..handle), how many, prune budget, events ('' or
-- '='..retentionMs), shard... (in handle
-- order, from the cursor's shard). Reply: up to `how many` rows.
local P, now, k, v = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local cursor = opt(ARGV[5])
local want, budget = tonumber(ARGV[6]), tonumber(ARGV[7])
local ev = eventsOf(ARGV[8], true)
local rows = {}
for i = 9, #ARGV do
  if #rows >= want then break end
  local shard = ARGV[i]
  local SP = shardPrefix(P, shard)
  budget = budget - prune(SP, now, budget, ev)
  local from = '-'
  if cursor and string.sub(cursor, 1, 1) == shard then from = '(' .. cursor end
  local set = indexSetKey(SP, k, v)
  while #rows < want do
    local handles = redis.call('ZRANGEBYLEX', set, from, '+', 'LIMIT', 0, want - #rows)
    if #handles == 0 then break end
    for _, handle in ipairs(handles) do
      local m = loadLive(SP, handle, now, nil, ev)
      if m then rows[#rows + 1] = row(handle, m) end
    end
    from = '(' .. handles[#handles]
  end
end
return rows
