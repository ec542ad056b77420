/**
 * The embedded, single-process backend: the same observable behaviour as the
 * Redis backend (the conformance suite runs against both), for development,
 * tests and single-node use.
 *
 * Every method runs synchronously to completion inside atomically(), so each
 * behaves as one atomic step, as a Lua script does on Redis.
 */
import { AppError } from '../../errors.js'
import { deepFreeze } from '../../freeze.js'
import type { Backend, EncodedEntry } from '../backend.js'
import { refreshDue, slideExpiry } from '../expiry.js'
import { assertPrecondition, assertSessionFits, entryBytes, incrementText, indexText, initialMeta, parseStoredValue } from '../rules.js'
import { ROTATION_GRACE_MS, type AccessOptions, type SessionData, type SessionMeta, type SessionRecord, type StoreOptions, type WriteOptions } from '../types.js'
import { createExpiryBuckets } from './expiry-buckets.js'
import { createSortedHandles, type SortedHandles } from './sorted-handles.js'

export interface MemoryStoreOptions extends StoreOptions {
  /** How often expired sessions and tombstones are dropped while nothing touches the store. */
  readonly sweepIntervalMs?: number
}

const DEFAULT_SWEEP_INTERVAL_MS = 5_000

/** The mutable state of one session; never handed out (see snapshotMeta / snapshotRecord). */
interface Entry {
  handle: string
  userId: string | null
  version: number
  authenticatedAt: number | null
  readonly createdAt: number
  lastSeenAt: number
  expiresAt: number
  readonly absoluteExpiresAt: number
  readonly idleTtlMs: number
  readonly userAgent: string | null
  readonly ip: string | null
  /** Data key to its JSON text, as Redis keeps it. */
  readonly data: Map<string, string>
  /** Indexed key to the value the session is filed under, as Redis keeps it in `@m`. */
  readonly filed: Map<string, string>
  /** data parsed and deeply frozen, shared by every record handed out until the next write; null when due to be rebuilt. */
  view: SessionData | null
  /** Sum of entryBytes over data, checked against maxSessionBytes. */
  bytes: number
}

/** A data key and its new value (undefined to delete it). */
type DataChange = readonly [key: string, entry: EncodedEntry | undefined]

/** Internal sizes, for tests: what the store holds, expired or not. */
export interface MemoryStoreStats {
  readonly sessions: number
  readonly tombstones: number
  readonly expiryBuckets: number
  readonly users: number
  readonly indexEntries: number
}

export interface MemoryBackend extends Backend {
  stats(): MemoryStoreStats
}

export function createMemoryBackend(options: MemoryStoreOptions): MemoryBackend {
  const { limits, touchIntervalMs } = options
  const clock = options.clock ?? Date.now
  const indexedKeys: ReadonlySet<string> = new Set(options.indexedKeys)

  const sessions = new Map<string, Entry>()
  const expiry = createExpiryBuckets()
  /** Rotated-away handle to the end of its grace period. Every grace is equally long, so insertion order is expiry order. */
  const tombstones = new Map<string, number>()
  const userHandles = new Map<string, Set<string>>()
  /** Indexed key to value to the handles filed under it, in order, so that listings page by handle. */
  const indexes = new Map<string, Map<string, SortedHandles>>([...indexedKeys].map((key) => [key, new Map()]))
  let closed = false

  const sweep = setInterval(() => { settle(clock()) }, options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS)
  sweep.unref()

  /** Drops what ended in whole expiry seconds before now and stale tombstones: cost proportional to what expired. */
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

  /** prune, plus the partly expired current second: afterwards every entry held is live, so sizes are counts. */
  function settle(now: number): void {
    prune(now)
    for (const handle of [...expiry.current(now)]) {
      const entry = sessions.get(handle)
      if (entry !== undefined && !isLive(entry, now)) unlink(entry)
    }
  }

  /** Runs one operation to completion: atomic, and a throw becomes a rejection. */
  function atomically<T>(operation: (now: number) => T): Promise<T> {
    try {
      if (closed) throw new AppError('store_unavailable', 'the memory store is closed')
      const now = clock()
      prune(now)
      return Promise.resolve(operation(now))
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)))
    }
  }

  function isLive(entry: Entry, now: number): boolean {
    return now < entry.expiresAt
  }

  /** The live session under handle, if any; an expired one found on the way is dropped. */
  function findLive(handle: string, now: number): Entry | undefined {
    const entry = sessions.get(handle)
    if (entry === undefined) return undefined
    if (isLive(entry, now)) return entry
    unlink(entry)
    return undefined
  }

  function requireLive(handle: string, now: number): Entry {
    const entry = findLive(handle, now)
    if (entry !== undefined) return entry
    const graceEnd = tombstones.get(handle)
    if (graceEnd !== undefined && now < graceEnd) throw new AppError('session_rotated', 'the session was rotated')
    throw new AppError('session_not_found', 'no such session')
  }

  function fileUnder(handle: string, key: string, value: string): void {
    const index = indexes.get(key)
    if (index === undefined) return
    const handles = index.get(value) ?? createSortedHandles()
    index.set(value, handles)
    handles.add(handle)
  }

  function unfileFrom(handle: string, key: string, value: string): void {
    const handles = indexes.get(key)?.get(value)
    if (handles === undefined) return
    handles.delete(handle)
    if (handles.size() === 0) indexes.get(key)?.delete(value)
  }

  /** Makes an entry reachable under its handle: session map, expiry bucket, user and secondary indexes. */
  function link(entry: Entry): void {
    sessions.set(entry.handle, entry)
    expiry.add(entry.handle, entry.expiresAt)
    if (entry.userId !== null) {
      const handles = userHandles.get(entry.userId)
      if (handles === undefined) userHandles.set(entry.userId, new Set([entry.handle]))
      else handles.add(entry.handle)
    }
    for (const [key, value] of entry.filed) fileUnder(entry.handle, key, value)
  }

  /** The exact inverse of link: ends the session as far as every lookup is concerned. */
  function unlink(entry: Entry): void {
    sessions.delete(entry.handle)
    expiry.remove(entry.handle, entry.expiresAt)
    if (entry.userId !== null) {
      const handles = userHandles.get(entry.userId)
      handles?.delete(entry.handle)
      if (handles?.size === 0) userHandles.delete(entry.userId)
    }
    for (const [key, value] of entry.filed) unfileFrom(entry.handle, key, value)
  }

  function refresh(entry: Entry, now: number): void {
    const expiresAt = slideExpiry(now, entry.idleTtlMs, entry.absoluteExpiresAt)
    expiry.move(entry.handle, entry.expiresAt, expiresAt)
    entry.lastSeenAt = now
    entry.expiresAt = expiresAt
  }

  function touchOnRead(entry: Entry, access: AccessOptions, now: number): void {
    if (access.touch && refreshDue(now, entry.lastSeenAt, touchIntervalMs)) refresh(entry, now)
  }

  /** Moves the session's index entry for `key` to `value` (null: not filed). */
  function refile(entry: Entry, key: string, value: string | null): void {
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
  }

  /**
   * Applies changes to distinct keys after the limits accept the result; the
   * version grows once when any data changed.
   */
  function commit(entry: Entry, changes: readonly DataChange[], write: WriteOptions, now: number): void {
    let keys = entry.data.size
    let bytes = entry.bytes
    let changed = false
    for (const [key, change] of changes) {
      const old = entry.data.get(key)
      if (old !== undefined) {
        keys -= 1
        bytes -= entryBytes(key, old)
        changed = true
      }
      if (change !== undefined) {
        keys += 1
        bytes += entryBytes(key, change.text)
        changed = true
      }
    }
    assertSessionFits(keys, bytes, limits)
    for (const [key, change] of changes) {
      if (change === undefined) entry.data.delete(key)
      else entry.data.set(key, change.text)
      refile(entry, key, change?.indexValue ?? null)
    }
    entry.bytes = bytes
    if (changed) {
      entry.version += 1
      entry.view = null
    }
    if (write.touch) refresh(entry, now)
  }

  function liveUserEntries(userId: string, now: number): Entry[] {
    const entries: Entry[] = []
    for (const handle of userHandles.get(userId) ?? []) {
      const entry = sessions.get(handle)
      if (entry !== undefined && isLive(entry, now)) entries.push(entry)
    }
    return entries
  }

  /** Ends every live session among `handles`; resolves to how many. */
  function endAll(handles: Iterable<string>, now: number): number {
    let ended = 0
    for (const handle of handles) {
      const entry = findLive(handle, now)
      if (entry === undefined) continue
      unlink(entry)
      ended += 1
    }
    return ended
  }

  return {
    kind: 'memory',

    create: (input) => atomically((now) => {
      if (findLive(input.handle, now) !== undefined) throw new AppError('conflict', 'a session with this handle exists')
      const filed = new Map<string, string>()
      for (const { key, indexValue } of input.entries) if (indexValue !== null) filed.set(key, indexValue)
      const data = new Map(input.entries.map(({ key, text }) => [key, text]))
      const entry: Entry = Object.assign(initialMeta(input, now), { idleTtlMs: input.idleTtlMs, data, filed, view: null, bytes: input.bytes })
      link(entry)
      return snapshotRecord(entry)
    }),

    get: (handle, access) => atomically((now) => {
      const entry = requireLive(handle, now)
      touchOnRead(entry, access, now)
      return snapshotRecord(entry)
    }),

    getKey: (handle, key, access) => atomically((now) => {
      const entry = requireLive(handle, now)
      touchOnRead(entry, access, now)
      return { value: dataView(entry)[key], version: entry.version }
    }),

    setKey: (handle, entry, write) => atomically((now) => {
      const session = requireLive(handle, now)
      assertPrecondition(write.ifMatch, session.version)
      commit(session, [[entry.key, entry]], write, now)
      return session.version
    }),

    deleteKey: (handle, key, write) => atomically((now) => {
      const session = requireLive(handle, now)
      assertPrecondition(write.ifMatch, session.version)
      commit(session, [[key, undefined]], write, now)
      return session.version
    }),

    patch: (handle, batch, write) => atomically((now) => {
      const session = requireLive(handle, now)
      assertPrecondition(write.ifMatch, session.version)
      // The batch names each key once, so the changes are to distinct keys.
      const changes: DataChange[] = batch.set.map((entry) => [entry.key, entry])
      for (const key of batch.del) changes.push([key, undefined])
      for (const [key, by] of batch.incr) {
        const text = incrementText(key, session.data.get(key), by)
        changes.push([key, { key, text, indexValue: indexedKeys.has(key) ? indexText(text) : null }])
      }
      commit(session, changes, write, now)
      return snapshotRecord(session)
    }),

    destroy: (handles) => atomically((now) => endAll(handles, now)),

    rotate: (handle, newHandle, { userId }) => atomically((now) => {
      const entry = requireLive(handle, now)
      if (findLive(newHandle, now) !== undefined) throw new AppError('conflict', 'a session with the new handle exists')
      unlink(entry)
      entry.handle = newHandle
      if (userId !== undefined) {
        entry.userId = userId
        entry.authenticatedAt = now
      }
      link(entry)
      tombstones.delete(handle)
      tombstones.set(handle, now + ROTATION_GRACE_MS)
      return snapshotRecord(entry)
    }),

    listUserSessions: (userId) => atomically((now) => liveUserEntries(userId, now).map(snapshotMeta)),

    revokeUserSessions: (userId, { exceptHandle }) => atomically((now) => {
      const ended = liveUserEntries(userId, now).filter((entry) => entry.handle !== exceptHandle)
      for (const entry of ended) unlink(entry)
      return ended.length
    }),

    listByIndex: (key, value, { limit, cursor }) => atomically((now) => {
      const page: Entry[] = []
      for (const handle of indexes.get(key)?.get(value)?.after(cursor) ?? []) {
        const entry = sessions.get(handle)
        if (entry !== undefined && isLive(entry, now)) page.push(entry)
        // One more than asked for tells whether a next page exists.
        if (page.length > limit) break
      }
      const sessionsOnPage = page.slice(0, limit)
      const last = sessionsOnPage.at(-1)
      return {
        sessions: sessionsOnPage.map(snapshotMeta),
        nextCursor: page.length > limit && last !== undefined ? last.handle : null
      }
    }),

    revokeByIndex: (key, value) => atomically((now) => endAll([...(indexes.get(key)?.get(value)?.after(null) ?? [])], now)),

    countSessions: (byKey) => atomically((now) => {
      settle(now)
      const by = Object.create(null) as Record<string, number>
      for (const [value, handles] of byKey === undefined ? [] : (indexes.get(byKey) ?? [])) by[value] = handles.size()
      return { total: sessions.size, by }
    }),

    ping: () => atomically(() => undefined),

    close: () => {
      clearInterval(sweep)
      closed = true
      return Promise.resolve()
    },

    stats: () => ({
      sessions: sessions.size,
      tombstones: tombstones.size,
      expiryBuckets: expiry.size(),
      users: userHandles.size,
      indexEntries: [...indexes.values()].reduce((sum, index) => sum + [...index.values()].reduce((n, handles) => n + handles.size(), 0), 0)
    })
  }
}

/**
 * The entry's data as handed out: parsed once per version and frozen all the
 * way down, so records can share it without sharing mutable state.
 */
function dataView(entry: Entry): SessionData {
  if (entry.view !== null) return entry.view
  const view = Object.create(null) as SessionData
  for (const [key, text] of entry.data) view[key] = deepFreeze(parseStoredValue(text))
  entry.view = Object.freeze(view)
  return view
}

/** A fresh copy of the metadata now, for listings. */
function snapshotMeta(entry: Entry): SessionMeta {
  const { handle, userId, version, authenticatedAt, createdAt, lastSeenAt, expiresAt, absoluteExpiresAt, userAgent, ip } = entry
  return { handle, userId, version, authenticatedAt, createdAt, lastSeenAt, expiresAt, absoluteExpiresAt, userAgent, ip }
}

/** The metadata now with this version's frozen data, built as one object literal (see docs/performance.md). */
function snapshotRecord(entry: Entry): SessionRecord {
  const { handle, userId, version, authenticatedAt, createdAt, lastSeenAt, expiresAt, absoluteExpiresAt, userAgent, ip } = entry
  return { handle, userId, version, authenticatedAt, createdAt, lastSeenAt, expiresAt, absoluteExpiresAt, userAgent, ip, data: dataView(entry) }
}
