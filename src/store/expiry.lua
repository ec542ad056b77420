-- The sliding-expiry rule of expiry.ts, next to this file, for the Redis
-- scripts: the same functions under the same names (scripts.ts prepends them
-- to the scripts that use them, as it does lib.lua's helpers).

-- The new expiry of a session used at `now`: now + idle, capped at the absolute expiry.
local function slideExpiry(now, idleTtlMs, absoluteExpiresAt)
  return math.min(now + idleTtlMs, absoluteExpiresAt)
end

-- Whether a touching read at `now` refreshes expiry, given when the session was last refreshed.
local function refreshDue(now, lastSeenAt, touchIntervalMs)
  return now - lastSeenAt >= touchIntervalMs
end
