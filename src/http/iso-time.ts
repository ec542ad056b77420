/**
 * ISO-8601 UTC times for the wire, as Date#toISOString writes them. Every
 * read answers times within the current second (lastSeenAt now, expiresAt
 * now + idle TTL), so the text up to the second is kept in a small
 * direct-mapped table: a hit is a lookup and a concatenation, a miss is
 * toISOString.
 */
const SLOTS = 1024
const slotSecond = new Float64Array(SLOTS).fill(Number.NaN)
const slotPrefix: string[] = new Array<string>(SLOTS).fill('')
/** The last instant a Date can hold. */
const MAX_DATE_MS = 8.64e15

export function isoTime(ms: number): string {
  const millis = ms % 1000
  // Before 1970, past the Date range, fractions and NaN: toISOString's own answer (or RangeError).
  if (ms < 0 || ms > MAX_DATE_MS || !Number.isInteger(ms)) return new Date(ms).toISOString()
  const second = (ms - millis) / 1000
  const slot = second % SLOTS
  let prefix = slotPrefix[slot] as string
  if (slotSecond[slot] !== second) {
    // "2026-12-01T19:43:16." of "2026-12-01T19:43:16.000Z"
    prefix = new Date(ms - millis).toISOString().slice(0, -4)
    slotSecond[slot] = second
    slotPrefix[slot] = prefix
  }
  return prefix + (millis < 10 ? '00' : millis < 100 ? '0' : '') + millis + 'Z'
}
