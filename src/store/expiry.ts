/**
 * The sliding-expiry rule (SPEC §2, lifetimes): every touching use moves
 * expiry to now + idle, never past the absolute expiry, and a touching read
 * does so only once the last refresh is touchIntervalMs old. The memory
 * backend runs these functions; the Redis scripts run their twins of the same
 * names in expiry.lua, next to this file, and test/store/expiry.test.ts holds
 * the two to the same answers.
 */

/** The new expiry of a session used at `now`: now + idle, capped at the absolute expiry. */
export function slideExpiry(now: number, idleTtlMs: number, absoluteExpiresAt: number): number {
  return Math.min(now + idleTtlMs, absoluteExpiresAt)
}

/** Whether a touching read at `now` refreshes expiry, given when the session was last refreshed. */
export function refreshDue(now: number, lastSeenAt: number, touchIntervalMs: number): boolean {
  return now - lastSeenAt >= touchIntervalMs
}
