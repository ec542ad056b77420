/**
 * The sessions the memory backend holds, by handle, kept in step with their
 * expiry buckets and the indexes, and the tombstones of rotated-away handles.
 * Expired sessions are dropped by prune and settle and wherever findLive
 * comes across one, and no lookup answers with one.
 */
import { SYSTEM_ACTOR, type EndCause } from '../events.js'
import type { Entry } from './entry.js'
import { createExpiryBuckets } from './expiry-buckets.js'
import type { Indexes } from './indexes.js'

export interface SessionTable {
  /** Makes an entry reachable under its handle: session map, expiry bucket, user and secondary indexes. */
  link(entry: Entry): void
  /** The exact inverse of link: the session is out of every lookup (a rotation links it again). */
  unlink(entry: Entry): void
  /** Ends the session: unlinks it and reports its end to the table's `ended` callback. */
  end(entry: Entry, cause: EndCause, now: number): void
  /** Sets the entry's expiry and moves it to that expiry's bucket. */
  expireAt(entry: Entry, expiresAt: number): void
  /** The live session under handle, if any; an expired one found on the way is dropped. */
  findLive(handle: string, now: number): Entry | undefined
  /** The live sessions among `handles`, in their order, up to `max` of them; none is dropped, as `handles` may be an index. */
  liveAmong(handles: Iterable<string>, now: number, max?: number): Entry[]
  /** Ends every live session among `handles` for `cause`; returns how many (an expired one found ends as expired). */
  endAll(handles: Iterable<string>, cause: EndCause, now: number): number
  /** Keeps a rotated-away handle until `graceEnd`, as the newest tombstone so that insertion order stays expiry order. */
  tombstone(handle: string, graceEnd: number): void
  /** Whether `handle` was rotated away and its grace has not ended. */
  inGrace(handle: string, now: number): boolean
  /** Drops what ended in whole expiry seconds before now and stale tombstones: cost proportional to what expired. */
  prune(now: number): void
  /** prune, plus the partly expired current second: afterwards every entry held is live, so sizes are counts. */
  settle(now: number): void
  size(): number
  /** What is held, expired or not. */
  stats(): { sessions: number; tombstones: number; expiryBuckets: number }
}

/** Called in the step that ends a session, with the entry as it was. */
export type EndedCallback = (entry: Entry, cause: EndCause, now: number) => void

const EXPIRED: EndCause = { actor: SYSTEM_ACTOR, reason: 'expired' }

export function createSessionTable(indexes: Indexes, ended: EndedCallback): SessionTable {
  const sessions = new Map<string, Entry>()
  const expiry = createExpiryBuckets()
  /** Rotated-away handle to the end of its grace period. Every grace is equally long, so insertion order is expiry order. */
  const tombstones = new Map<string, number>()

  const isLive = (entry: Entry, now: number): boolean => now < entry.expiresAt

  function unlink(entry: Entry): void {
    sessions.delete(entry.handle)
    expiry.remove(entry.handle, entry.expiresAt)
    indexes.unfile(entry)
  }

  function end(entry: Entry, cause: EndCause, now: number): void {
    unlink(entry)
    ended(entry, cause, now)
  }

  function findLive(handle: string, now: number): Entry | undefined {
    const entry = sessions.get(handle)
    if (entry === undefined) return undefined
    if (isLive(entry, now)) return entry
    end(entry, EXPIRED, now)
    return undefined
  }

  function prune(now: number): void {
    if (now >= expiry.drainableAt()) {
      for (const handle of expiry.drainEnded(now)) {
        const entry = sessions.get(handle)
        if (entry !== undefined) end(entry, EXPIRED, now)
      }
    }
    for (const [handle, until] of tombstones) {
      if (until > now) break
      tombstones.delete(handle)
    }
  }

  return {
    link(entry) {
      sessions.set(entry.handle, entry)
      expiry.add(entry.handle, entry.expiresAt)
      indexes.file(entry)
    },
    unlink,
    end,
    expireAt(entry, expiresAt) {
      expiry.move(entry.handle, entry.expiresAt, expiresAt)
      entry.expiresAt = expiresAt
    },
    findLive,
    liveAmong(handles, now, max = Infinity) {
      const entries: Entry[] = []
      for (const handle of handles) {
        const entry = sessions.get(handle)
        if (entry === undefined || !isLive(entry, now)) continue
        entries.push(entry)
        if (entries.length >= max) break
      }
      return entries
    },
    endAll(handles, cause, now) {
      let count = 0
      for (const handle of handles) {
        const entry = findLive(handle, now)
        if (entry === undefined) continue
        end(entry, cause, now)
        count += 1
      }
      return count
    },
    tombstone(handle, graceEnd) {
      tombstones.delete(handle)
      tombstones.set(handle, graceEnd)
    },
    inGrace(handle, now) {
      const graceEnd = tombstones.get(handle)
      return graceEnd !== undefined && now < graceEnd
    },
    prune,
    settle(now) {
      prune(now)
      for (const handle of [...expiry.current(now)]) {
        const entry = sessions.get(handle)
        if (entry !== undefined && !isLive(entry, now)) end(entry, EXPIRED, now)
      }
    },
    size: () => sessions.size,
    stats: () => ({ sessions: sessions.size, tombstones: tombstones.size, expiryBuckets: expiry.size() })
  }
}
