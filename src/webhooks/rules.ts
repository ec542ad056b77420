/**
 * The decisions of webhook delivery that need no I/O (docs/webhooks.md): when
 * a failed event is tried again or dropped, and which events of a shard's
 * window may be tried now without overtaking an earlier event of their
 * session.
 */
import type { StoredEvent } from '../store/events.js'

/** The first retry waits up to this long; each further one doubles it. */
export const BACKOFF_BASE_MS = 1_000
/** No retry waits longer than this. */
export const BACKOFF_CAP_MS = 300_000

/**
 * How long to wait before attempt `failures + 1`: "full jitter", a uniform
 * draw below the capped exponential, so that the events a receiver refused
 * together come back spread out instead of in one burst.
 */
export function backoffMs(failures: number, random: () => number = Math.random): number {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, failures - 1))
  return Math.floor(random() * ceiling)
}

/**
 * After a failed attempt at `now`: when to try the event again, or null to
 * drop it. It is retried until it is `maxAgeMs` old (its id's time is when it
 * was recorded), the last attempt at that age: a wait that would pass it is
 * shortened to end there.
 */
export function retryAt(recordedAt: number, failures: number, now: number, maxAgeMs: number, random: () => number = Math.random): number | null {
  const deadline = recordedAt + maxAgeMs
  if (now >= deadline) return null
  return Math.min(now + backoffMs(failures, random), deadline)
}

/** The handles an event speaks for: a rotation's new handle is the same session's. */
const handlesOf = (event: StoredEvent): string[] => (event.newHandle === null ? [event.handle] : [event.handle, event.newHandle])

/**
 * Of a shard's window (in id order), those whose session has no earlier event
 * still `pending` there: only they may be tried, so that a session's events
 * reach the receiver in order while the events of other sessions pass a
 * retried one. Links carry through rotations: an event after a rotation names
 * the new handle, which the rotation names too.
 */
export function unblocked<T extends { readonly event: StoredEvent; readonly pending: boolean }>(window: readonly T[]): T[] {
  const waiting = new Set<string>()
  const free: T[] = []
  for (const entry of window) {
    const handles = handlesOf(entry.event)
    if (!handles.some((handle) => waiting.has(handle))) free.push(entry)
    if (entry.pending) for (const handle of handles) waiting.add(handle)
  }
  return free
}
