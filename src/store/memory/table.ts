/**
 * The sessions the memory backend holds, by handle, kept in step with their
 * expiry buckets and the indexes, and the tombstones of rotated-away handles.
 * Expired sessions are dropped by prune and settle and wherever findLive
 * comes across one, and no lookup answers with one.
 */
import type { Entry } from './entry.js'
import { createExpiryBuckets } from './expiry-buckets.js'
import type { Indexes } from './indexes.js'

export interface SessionTable {
  /** Makes an entry reachable under its handle: session map, expiry bucket, user and secondary indexes. */
  link(entry: Entry): void
  /** The exact inverse of link: ends the session as far as every lookup is concerned. */
  unlink(entry: Entry): void
  /** Sets the entry's expiry and moves it to that expiry's bucket. */
  expireAt(entry: Entry, expiresAt: number): void
  /** The live session under handle, if any; an expired one found on the way is dropped. */
  findLive(handle: string, now: number): Entry | undefined
  /** The live sessions among `handles`, in their order, up to `max` of them; none is dropped, as `handles` may be an index. */
  liveAmong(handles: Iterable<string>, now: number, max?: number): Entry[]
  /** Ends every live session among `handles`; returns how many. */
  endAll(handles: Iterable<string>, now: number): number
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

export function createSessionTable(indexes: Indexes): SessionTable {
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

  function findLive(handle: string, now: number): Entry | undefined {
    const entry = sessions.get(handle)
    if (entry === undefined) return undefined
    if (isLive(entry, now)) return entry
    unlink(entry)
    return undefined
  }

  function prune(now: number): void {
    if (now >= expiry.drainableAt()) {
      for (const handle of expiry.drainEnded(now)) {
        const entry = sessions.get(handle)
        if (entry !== undefined) unlink(entry)
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
    endAll(handles, now) {
      let ended = 0
      for (const handle of handles) {
        const entry = findLive(handle, now)
        if (entry === undefined) continue
        unlink(entry)
        ended += 1
      }
      return ended
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
        if (entry !== undefined && !isLive(entry, now)) unlink(entry)
      }
    },
    size: () => sessions.size,
    stats: () => ({ sessions: sessions.size, tombstones: tombstones.size, expiryBuckets: expiry.size() })
  }
}
