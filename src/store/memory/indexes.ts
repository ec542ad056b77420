/**
 * The memory backend's lookups by something other than a handle: the
 * sessions bound to each user, and the sessions filed under each value of
 * each indexed key, kept in handle order so that listings page by handle.
 */
import type { Entry } from './entry.js'
import { createSortedHandles, type SortedHandles } from './sorted-handles.js'

export interface Indexes {
  /** Files the entry under its user and under every value in entry.filed. */
  file(entry: Entry): void
  /** The exact inverse of file. */
  unfile(entry: Entry): void
  /** Moves the entry's filing for an indexed key to `value` (null: not filed), in entry.filed as well. */
  refile(entry: Entry, key: string, value: string | null): void
  /** The handles bound to the user, in no particular order. */
  ofUser(userId: string): Iterable<string>
  /** The handles filed under `value` of `key` above `cursor` (all of them when null), in order. */
  under(key: string, value: string, cursor: string | null): Iterable<string>
  /** How many handles are filed under each value of `key` (none without a key). */
  counts(key: string | undefined): Record<string, number>
  /** Users with a session, and handles filed under index values (all keys and values together). */
  stats(): { users: number; indexEntries: number }
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
      for (const [key, value] of entry.filed) fileUnder(entry.handle, key, value)
    },
    unfile(entry) {
      if (entry.userId !== null) {
        const handles = userHandles.get(entry.userId)
        handles?.delete(entry.handle)
        if (handles?.size === 0) userHandles.delete(entry.userId)
      }
      for (const [key, value] of entry.filed) unfileFrom(entry.handle, key, value)
    },
    refile(entry, key, value) {
      const old = entry.filed.get(key)
      if (old === value) return
      if (old !== undefined) {
        unfileFrom(entry.handle, key, old)
        entry.filed.delete(key)
      }
      if (value !== null) {
        fileUnder(entry.handle, key, value)
        entry.filed.set(key, value)
      }
    },
    ofUser: (userId) => userHandles.get(userId) ?? [],
    under: (key, value, cursor) => byValue.get(key)?.get(value)?.after(cursor) ?? [],
    counts(key) {
      const by = Object.create(null) as Record<string, number>
      for (const [value, handles] of key === undefined ? [] : (byValue.get(key) ?? [])) by[value] = handles.size()
      return by
    },
    stats: () => ({
      users: userHandles.size,
      indexEntries: [...byValue.values()].reduce((sum, index) => sum + [...index.values()].reduce((n, handles) => n + handles.size(), 0), 0)
    })
  }
}
