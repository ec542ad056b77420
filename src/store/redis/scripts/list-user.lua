-- A user's live sessions in the given shards (data left out).
-- KEYS[1] a key of the first shard (routing only). ARGV: P, now, userId,
-- prune budget, events ('' or '='..retentionMs), shard... Reply: rows (see
-- lib.lua `row`).
local P, now, userId = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local budget = tonumber(ARGV[4])
local ev = eventsOf(ARGV[5], true)
local rows = {}
for i = 6, #ARGV do
  local SP = shardPrefix(P, ARGV[i])
  budget = budget - prune(SP, now, budget, ev)
  for _, handle in ipairs(redis.call('ZRANGE', SP .. 'u:' .. userId, 0, -1)) do
    local m = loadLive(SP, handle, now, nil, ev)
    if m then rows[#rows + 1] = row(handle, m) end
  end
end
return rows
