/**
 * The embedded, single-process Store: the same observable behaviour as the
 * Redis backend (test/store/conformance.ts runs against both), for
 * development, tests and single-node use.
 *
 * Every method runs synchronously to completion inside atomically(), so each
 * behaves as one atomic step, as a Lua script does on Redis.
 */
import { AppError } from '../errors.js'
import {
  assertDataKey,
  assertPrecondition,
  assertSessionFits,
  encodeBatch,
  encodeData,
  encodeValue,
  entryBytes,
  incrementText,
  indexText,
  initialMeta,
  parseStoredValue,
  refreshDue,
  slideExpiry
} from './rules.js'
import {
  ROTATION_GRACE_MS,
  type AccessOptions,
  type JsonValue,
  type SessionCounts,
  type SessionData,
  type SessionMeta,
  type SessionRecord,
  type Store,
  type StoreOptions,
  type WriteOptions
} from './types.js'

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
  /** data parsed and deeply frozen, shared by every record handed out until the next write; null when due to be rebuilt. */
  view: SessionData | null
  /** Sum of entryBytes over data, checked against maxSessionBytes. */
  bytes: number
}

/** A data key and its new JSON text, undefined to delete it. */
type DataChange = readonly [key: string, text: string | undefined]

/** Internal sizes, for tests: what the store holds, expired or not. */
export interface MemoryStoreStats {
  readonly sessions: number
  readonly tombstones: number
  readonly expiryBuckets: number
  readonly users: number
  readonly indexEntries: number
}

const statsByStore = new WeakMap<Store, () => MemoryStoreStats>()

export function memoryStoreStats(store: Store): MemoryStoreStats {
  const stats = statsByStore.get(store)
  if (stats === undefined) throw new TypeError('not a memory store')
  return stats()
}

export function createMemoryStore(options: MemoryStoreOptions): Store {
  const { limits, touchIntervalMs } = options
  const clock = options.clock ?? Date.now
  const indexedKeys: readonly string[] = [...new Set(options.indexedKeys)]

  const sessions = new Map<string, Entry>()
  const expiry = createExpiryBuckets()
  /** Rotated-away handle to the end of its grace period. Every grace is equally long, so insertion order is expiry order. */
  const tombstones = new Map<string, number>()
  const userHandles = new Map<string, Set<string>>()
  /** Indexed key to value to the handles filed under it, in order, so that listings page by handle. */
  const indexes = new Map<string, Map<string, SortedHandles>>(indexedKeys.map((key) => [key, new Map()]))
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

  /**
   * Runs one operation to completion: atomic, and a throw becomes a rejection.
   * Not a promise executor: that allocates an executor and two resolving functions per operation.
   */
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

  function requireIndex(key: string): Map<string, SortedHandles> {
    const index = indexes.get(key)
    if (index === undefined) throw new AppError('validation_failed', `"${key.slice(0, 140)}" is not an indexed key`)
    return index
  }

  /** What text is filed under in key's index; null when there is none (only an indexed key's text is parsed). */
  function indexedValue(key: string, text: string | undefined): string | null {
    return text === undefined || !indexes.has(key) ? null : indexText(text)
  }

  function fileIndexed(entry: Entry, key: string, text: string | undefined): void {
    const value = indexedValue(key, text)
    const index = indexes.get(key)
    if (value === null || index === undefined) return
    const handles = index.get(value) ?? createSortedHandles()
    index.set(value, handles)
    handles.add(entry.handle)
  }

  function unfileIndexed(entry: Entry, key: string, text: string | undefined): void {
    const value = indexedValue(key, text)
    const handles = value === null ? undefined : indexes.get(key)?.get(value)
    if (value === null || handles === undefined) return
    handles.delete(entry.handle)
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
    for (const key of indexedKeys) fileIndexed(entry, key, entry.data.get(key))
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
    for (const key of indexedKeys) unfileIndexed(entry, key, entry.data.get(key))
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

  /**
   * Applies encoded changes to distinct keys (a JSON text, or undefined to
   * delete) after the limits accept the result; the version grows once when
   * any data changed.
   */
  function commit(entry: Entry, changes: readonly DataChange[], write: WriteOptions, now: number): void {
    let keys = entry.data.size
    let bytes = entry.bytes
    let changed = false
    for (const [key, text] of changes) {
      const old = entry.data.get(key)
      if (old !== undefined) {
        keys -= 1
        bytes -= entryBytes(key, old)
        changed = true
      }
      if (text !== undefined) {
        keys += 1
        bytes += entryBytes(key, text)
        changed = true
      }
    }
    assertSessionFits(keys, bytes, limits)
    for (const [key, text] of changes) {
      unfileIndexed(entry, key, entry.data.get(key))
      if (text === undefined) entry.data.delete(key)
      else entry.data.set(key, text)
      fileIndexed(entry, key, text)
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

  /** After binding `bound` to its user: ends the user's least recently used other sessions beyond the limit. */
  function enforceUserLimit(bound: Entry, now: number): void {
    const max = limits.maxSessionsPerUser
    if (max === null || bound.userId === null) return
    const others = liveUserEntries(bound.userId, now).filter((entry) => entry !== bound)
    const excess = others.length + 1 - max
    if (excess <= 0) return
    for (const entry of others.sort(leastRecentlyUsedFirst).slice(0, excess)) unlink(entry)
  }

  const store: Store = {
    kind: 'memory',

    create: (input) => atomically((now) => {
      const { entries, bytes } = encodeData(input.data, limits)
      if (findLive(input.handle, now) !== undefined) throw new AppError('conflict', 'a session with this handle exists')
      // Not a spread: in Node 20 `{ ...meta, more }` gives every object a map of its own, which makes each later field access megamorphic.
      const entry: Entry = Object.assign(initialMeta(input, now), { idleTtlMs: input.idleTtlMs, data: new Map(entries), view: null, bytes })
      link(entry)
      enforceUserLimit(entry, now)
      return snapshotRecord(entry)
    }),

    get: (handle, access) => atomically((now) => {
      const entry = requireLive(handle, now)
      touchOnRead(entry, access, now)
      return snapshotRecord(entry)
    }),

    getKey: (handle, key, access) => atomically((now) => {
      assertDataKey(key)
      const entry = requireLive(handle, now)
      touchOnRead(entry, access, now)
      return { value: dataView(entry)[key], version: entry.version }
    }),

    setKey: (handle, key, value, write) => atomically((now) => {
      assertDataKey(key)
      const text = encodeValue(key, value, limits)
      const entry = requireLive(handle, now)
      assertPrecondition(write.ifMatch, entry.version)
      commit(entry, [[key, text]], write, now)
      return entry.version
    }),

    deleteKey: (handle, key, write) => atomically((now) => {
      assertDataKey(key)
      const entry = requireLive(handle, now)
      assertPrecondition(write.ifMatch, entry.version)
      commit(entry, [[key, undefined]], write, now)
      return entry.version
    }),

    patch: (handle, ops, write) => atomically((now) => {
      const batch = encodeBatch(ops, limits)
      const entry = requireLive(handle, now)
      assertPrecondition(write.ifMatch, entry.version)
      // encodeBatch names each key once, so the changes are to distinct keys.
      const changes: DataChange[] = [...batch.set]
      for (const key of batch.del) changes.push([key, undefined])
      for (const [key, by] of batch.incr) changes.push([key, incrementText(key, entry.data.get(key), by)])
      commit(entry, changes, write, now)
      return snapshotRecord(entry)
    }),

    destroy: (handle) => atomically((now) => {
      const entry = findLive(handle, now)
      if (entry === undefined) return false
      unlink(entry)
      return true
    }),

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
      if (userId !== undefined) enforceUserLimit(entry, now)
      return snapshotRecord(entry)
    }),

    listUserSessions: (userId) => atomically((now) =>
      liveUserEntries(userId, now).sort(mostRecentlySeenFirst).map(snapshotMeta)
    ),

    revokeUserSessions: (userId, { exceptHandle }) => atomically((now) => {
      const ended = liveUserEntries(userId, now).filter((entry) => entry.handle !== exceptHandle)
      for (const entry of ended) unlink(entry)
      return ended.length
    }),

    listByIndex: (key, value, { limit, cursor }) => atomically((now) => {
      const handles = requireIndex(key).get(value)
      if (!Number.isSafeInteger(limit) || limit < 1) throw new AppError('validation_failed', 'limit must be a positive integer')
      const page: Entry[] = []
      for (const handle of handles?.after(cursor) ?? []) {
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

    revokeByIndex: (key, value) => atomically((now) => {
      const handles = [...(requireIndex(key).get(value)?.after(null) ?? [])]
      let ended = 0
      for (const handle of handles) {
        const entry = findLive(handle, now)
        if (entry === undefined) continue
        unlink(entry)
        ended += 1
      }
      return ended
    }),

    countSessions: (byKey) => atomically((now): SessionCounts => {
      const index = byKey === undefined ? undefined : requireIndex(byKey)
      settle(now)
      const by = Object.create(null) as Record<string, number>
      for (const [value, handles] of index ?? []) by[value] = handles.size()
      return { total: sessions.size, by }
    }),

    ping: () => atomically(() => undefined),

    close: () => {
      clearInterval(sweep)
      closed = true
      return Promise.resolve()
    }
  }

  statsByStore.set(store, () => ({
    sessions: sessions.size,
    tombstones: tombstones.size,
    expiryBuckets: expiry.size(),
    users: userHandles.size,
    indexEntries: [...indexes.values()].reduce((sum, index) => sum + [...index.values()].reduce((n, handles) => n + handles.size(), 0), 0)
  }))
  return store
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

function deepFreeze(value: JsonValue): JsonValue {
  if (typeof value === 'object' && value !== null) {
    for (const item of Object.values(value)) deepFreeze(item)
    Object.freeze(value)
  }
  return value
}

/** A fresh copy of the metadata now, for listings. */
function snapshotMeta(entry: Entry): SessionMeta {
  const { handle, userId, version, authenticatedAt, createdAt, lastSeenAt, expiresAt, absoluteExpiresAt, userAgent, ip } = entry
  return { handle, userId, version, authenticatedAt, createdAt, lastSeenAt, expiresAt, absoluteExpiresAt, userAgent, ip }
}

/**
 * The metadata now with this version's frozen data, built as one literal:
 * extending a snapshotMeta (spread or Object.assign) costs a second object
 * and a change of shape on every read.
 */
function snapshotRecord(entry: Entry): SessionRecord {
  const { handle, userId, version, authenticatedAt, createdAt, lastSeenAt, expiresAt, absoluteExpiresAt, userAgent, ip } = entry
  return { handle, userId, version, authenticatedAt, createdAt, lastSeenAt, expiresAt, absoluteExpiresAt, userAgent, ip, data: dataView(entry) }
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

function mostRecentlySeenFirst(a: Entry, b: Entry): number {
  return b.lastSeenAt - a.lastSeenAt || compareText(a.handle, b.handle)
}

function leastRecentlyUsedFirst(a: Entry, b: Entry): number {
  return a.lastSeenAt - b.lastSeenAt || a.createdAt - b.createdAt || compareText(a.handle, b.handle)
}

/** The first position in a sorted array whose element is not below value. */
function lowerBound(sorted: readonly string[], value: string): number {
  let low = 0
  let high = sorted.length
  while (low < high) {
    const mid = (low + high) >>> 1
    if ((sorted[mid] as string) < value) low = mid + 1
    else high = mid
  }
  return low
}

/** The handles filed under one index value, in (byte) order, as Redis orders a score-0 sorted set. */
interface SortedHandles {
  add(handle: string): void
  delete(handle: string): void
  size(): number
  /** The handles above `cursor` (all of them when null), in order. */
  after(cursor: string | null): Generator<string>
}

const CHUNK_SIZE = 512

/**
 * A sorted list of sorted chunks of at most 2 x CHUNK_SIZE handles: adding or
 * deleting one moves at most a chunk, not the whole list, so filing or
 * expiring many sessions under one value stays linear rather than quadratic.
 */
function createSortedHandles(): SortedHandles {
  const chunks: string[][] = []
  let size = 0

  /** The first chunk whose last handle is not below `handle` (chunks.length when none is). */
  function chunkOf(handle: string): number {
    let low = 0
    let high = chunks.length
    while (low < high) {
      const mid = (low + high) >>> 1
      if (((chunks[mid] as string[]).at(-1) as string) < handle) low = mid + 1
      else high = mid
    }
    return low
  }

  return {
    add(handle) {
      const at = Math.min(chunkOf(handle), chunks.length - 1)
      const chunk = chunks[at]
      if (chunk === undefined) {
        chunks.push([handle])
        size += 1
        return
      }
      const position = lowerBound(chunk, handle)
      if (chunk[position] === handle) return
      chunk.splice(position, 0, handle)
      size += 1
      if (chunk.length > 2 * CHUNK_SIZE) chunks.splice(at, 1, chunk.slice(0, CHUNK_SIZE), chunk.slice(CHUNK_SIZE))
    },
    delete(handle) {
      const at = chunkOf(handle)
      const chunk = chunks[at]
      if (chunk === undefined) return
      const position = lowerBound(chunk, handle)
      if (chunk[position] !== handle) return
      chunk.splice(position, 1)
      size -= 1
      if (chunk.length === 0) chunks.splice(at, 1)
    },
    size: () => size,
    *after(cursor) {
      for (let at = cursor === null ? 0 : chunkOf(cursor); at < chunks.length; at += 1) {
        const chunk = chunks[at] as string[]
        let position = cursor === null ? 0 : lowerBound(chunk, cursor)
        if (chunk[position] === cursor) position += 1
        for (; position < chunk.length; position += 1) yield chunk[position] as string
      }
    }
  }
}

/**
 * Handles grouped by the second their session expires in, with a min-heap of
 * those seconds. Pruning pops only the seconds that have fully passed, so it
 * costs what expired (plus log(buckets) per second), never a scan of every
 * session. A bucket stays (possibly empty) until its second passes, so each
 * second is in the heap at most once and memory is bounded by the TTL span.
 */
interface ExpiryBuckets {
  add(handle: string, expiresAt: number): void
  remove(handle: string, expiresAt: number): void
  /** From the bucket of one expiry to that of another; nothing to do while both fall in one second. */
  move(handle: string, from: number, to: number): void
  /** When the earliest bucket's whole second has passed, so that drainEnded has something to do (Infinity: never). */
  drainableAt(): number
  /** Removes and returns every handle of the buckets whose whole second lies before now. */
  drainEnded(now: number): string[]
  /** The earliest remaining bucket when it may already hold expired handles (it started at or before now). */
  current(now: number): ReadonlySet<string>
  size(): number
}

const BUCKET_MS = 1_000

function createExpiryBuckets(): ExpiryBuckets {
  const buckets = new Map<number, Set<string>>()
  const seconds: number[] = []

  function push(second: number): void {
    let i = seconds.push(second) - 1
    while (i > 0) {
      const parent = (i - 1) >>> 1
      if ((seconds[parent] as number) <= second) break
      seconds[i] = seconds[parent] as number
      i = parent
    }
    seconds[i] = second
  }

  function pop(): void {
    const last = seconds.pop() as number
    if (seconds.length === 0) return
    let i = 0
    for (;;) {
      const left = 2 * i + 1
      if (left >= seconds.length) break
      const right = left + 1
      const child = right < seconds.length && (seconds[right] as number) < (seconds[left] as number) ? right : left
      if ((seconds[child] as number) >= last) break
      seconds[i] = seconds[child] as number
      i = child
    }
    seconds[i] = last
  }

  const secondOf = (at: number): number => Math.floor(at / BUCKET_MS)

  function add(handle: string, expiresAt: number): void {
    const second = secondOf(expiresAt)
    const bucket = buckets.get(second)
    if (bucket !== undefined) {
      bucket.add(handle)
      return
    }
    buckets.set(second, new Set([handle]))
    push(second)
  }

  function drainableAt(): number {
    const first = seconds[0]
    return first === undefined ? Infinity : (first + 1) * BUCKET_MS
  }

  function remove(handle: string, expiresAt: number): void {
    buckets.get(secondOf(expiresAt))?.delete(handle)
  }

  return {
    add,
    remove,
    move(handle, from, to) {
      if (secondOf(from) === secondOf(to)) return
      remove(handle, from)
      add(handle, to)
    },
    drainableAt,
    drainEnded(now) {
      const ended: string[] = []
      while (drainableAt() <= now) {
        const first = seconds[0] as number
        pop()
        for (const handle of buckets.get(first) ?? []) ended.push(handle)
        buckets.delete(first)
      }
      return ended
    },
    current(now) {
      const first = seconds[0]
      return first !== undefined && first * BUCKET_MS <= now ? (buckets.get(first) ?? new Set()) : new Set()
    },
    size: () => buckets.size
  }
}
