/**
 * The memory backend's lookups by something other than a handle: the
 * sessions bound to each user, and the sessions filed under each value of
 * each indexed key, kept in handle order so that listings page by handle.
 */
import type { IndexPair } from '../backend.js'
import { isPlainEntry } from '../index-entries.js'
import type { Entry } from './entry.js'
import { createSortedHandles, type SortedHandles } from './sorted-handles.js'

export interface Indexes {
  /** Files the entry under its user and under every pair in entry.filed. */
  file(entry: Entry): void
  /** The exact inverse of file. */
  unfile(entry: Entry): void
  /** Moves what the value of `dataKey` files the entry under to `pairs`, in entry.filed as well. */
  refile(entry: Entry, dataKey: string, pairs: readonly IndexPair[]): void
  /** The handles bound to the user, in no particular order. */
  ofUser(userId: string): Iterable<string>
  /** The handles filed under `value` of `key` above `cursor` (all of them when null), in order. */
  under(key: string, value: string, cursor: string | null): Iterable<string>
  /** How many handles are filed under each value of `key`, and under any (none without a key). */
  counts(key: string | undefined): { by: Record<string, number>; filed: number }
  /** Users with a session, and handles filed under index values (all keys and values together). */
  stats(): { users: number; indexEntries: number }
}

/** The pairs of `a` that are not in `b` (both sorted and without repeats, as rules.ts makes them). */
function pairsMissing(a: readonly IndexPair[], b: readonly IndexPair[]): IndexPair[] {
  return a.filter(([entry, value]) => !b.some(([e, v]) => e === entry && v === value))
}

export function createIndexes(indexedKeys: ReadonlySet<string>): Indexes {
  const userHandles = new Map<string, Set<string>>()
  /** Indexed key to value to the handles filed under it. */
  const byValue = new Map<string, Map<string, SortedHandles>>([...indexedKeys].map((key) => [key, new Map()]))

  function fileUnder(handle: string, key: string, value: string): void {
    const index = byValue.get(key)
    if (index === undefined) return
    const handles = index.get(value) ?? createSortedHandles()
    index.set(value, handles)
    handles.add(handle)
  }

  function unfileFrom(handle: string, key: string, value: string): void {
    const handles = byValue.get(key)?.get(value)
    if (handles === undefined) return
    handles.delete(handle)
    if (handles.size() === 0) byValue.get(key)?.delete(value)
  }

  return {
    file(entry) {
      if (entry.userId !== null) {
        const handles = userHandles.get(entry.userId)
        if (handles === undefined) userHandles.set(entry.userId, new Set([entry.handle]))
        else handles.add(entry.handle)
      }
      for (const pairs of entry.filed.values()) for (const [key, value] of pairs) fileUnder(entry.handle, key, value)
    },
    unfile(entry) {
      if (entry.userId !== null) {
        const handles = userHandles.get(entry.userId)
        handles?.delete(entry.handle)
        if (handles?.size === 0) userHandles.delete(entry.userId)
      }
      for (const pairs of entry.filed.values()) for (const [key, value] of pairs) unfileFrom(entry.handle, key, value)
    },
    refile(entry, dataKey, pairs) {
      const old = entry.filed.get(dataKey) ?? []
      if (old.length === 0 && pairs.length === 0) return
      for (const [key, value] of pairsMissing(old, pairs)) unfileFrom(entry.handle, key, value)
      for (const [key, value] of pairsMissing(pairs, old)) fileUnder(entry.handle, key, value)
      if (pairs.length === 0) entry.filed.delete(dataKey)
      else entry.filed.set(dataKey, pairs)
    },
    ofUser: (userId) => userHandles.get(userId) ?? [],
    under: (key, value, cursor) => byValue.get(key)?.get(value)?.after(cursor) ?? [],
    counts(key) {
      const by = Object.create(null) as Record<string, number>
      let sum = 0
      for (const [value, handles] of key === undefined ? [] : (byValue.get(key) ?? [])) {
        by[value] = handles.size()
        sum += handles.size()
      }
      // A plain entry files a session under one value at most; a collection entry's sessions are counted once.
      if (key === undefined || isPlainEntry(key)) return { by, filed: sum }
      const filed = new Set<string>()
      for (const handles of byValue.get(key)?.values() ?? []) for (const handle of handles.after(null)) filed.add(handle)
      return { by, filed: filed.size }
    },
    stats: () => ({
      users: userHandles.size,
      indexEntries: [...byValue.values()].reduce((sum, index) => sum + [...index.values()].reduce((n, handles) => n + handles.size(), 0), 0)
    })
  }
}
