/**
 * The embedded, single-process backend: the same observable behaviour as the
 * Redis backend (the conformance suite runs against both), for development,
 * tests and single-node use.
 *
 * Every method runs synchronously to completion inside atomically(), so each
 * behaves as one atomic step, as a Lua script does on Redis. This file applies
 * the backend's rules to sessions (entry.ts) held in a table (table.ts) with
 * their indexes (indexes.ts), and hands out snapshots of them.
 */
import { AppError } from '../../errors.js'
import { SHARDS } from '../../tokens.js'
import { deepFreeze } from '../../freeze.js'
import type { Backend, EncodedEntry } from '../backend.js'
import { plainIndex, type EndCause } from '../events.js'
import { refreshDue, slideExpiry } from '../expiry.js'
import { indexPlan } from '../index-entries.js'
import { assertPrecondition, assertSessionFits, entryBytes, incrementText, initialMeta, parseStoredValue, storedEntry } from '../rules.js'
import { ROTATION_GRACE_MS, type AccessOptions, type SessionData, type SessionMeta, type SessionRecord, type StoreOptions, type WriteOptions } from '../types.js'
import { newEntry, type Entry } from './entry.js'
import { createMemoryDeliveries } from './deliveries.js'
import { createEventLog, type NewEvent } from './event-log.js'
import { createIndexes } from './indexes.js'
import { createSessionTable } from './table.js'

export interface MemoryStoreOptions extends StoreOptions {
  /** Without events, how often expired sessions and tombstones are dropped while nothing touches the store (with events, the service's sweep does it). */
  readonly sweepIntervalMs?: number
}

const DEFAULT_SWEEP_INTERVAL_MS = 5_000

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
  const plan = indexPlan(options.indexedKeys)
  const indexes = createIndexes(plan.names)
  const log = options.events === undefined ? null : createEventLog(options.events.retentionMs)
  /** An event of the entry as it is now (and nothing without events). */
  const record = (entry: Entry, now: number, event: Pick<NewEvent, 'type' | 'actor'> & Partial<NewEvent>): void => {
    log?.record(now, {
      handle: entry.handle,
      userId: entry.userId,
      reason: null,
      newHandle: null,
      index: plainIndex([...entry.filed.values()].flat()),
      ...event
    })
  }
  /** Sessions ended as expired so far, whichever step ended them: a sweep reports the ones its step ended. */
  let expiries = 0
  const table = createSessionTable(indexes, (entry, { actor, reason }, now) => {
    if (reason === 'expired') expiries++
    record(entry, now, { type: 'session.ended', actor, reason })
  })
  let closed = false

  // Only to free memory: with events, expiries are announced by the service's sweep (Store.sweepExpired).
  const sweep = log === null ? setInterval(() => table.settle(clock()), options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS) : undefined
  sweep?.unref()

  /** Runs one operation to completion: atomic, and a throw becomes a rejection. */
  function atomically<T>(operation: (now: number) => T): Promise<T> {
    try {
      if (closed) throw new AppError('store_unavailable', 'the memory store is closed')
      const now = clock()
      table.prune(now)
      return Promise.resolve(operation(now))
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)))
    }
  }

  function requireLive(handle: string, now: number): Entry {
    const entry = table.findLive(handle, now)
    if (entry !== undefined) return entry
    if (table.inGrace(handle, now)) throw new AppError('session_rotated', 'the session was rotated')
    throw new AppError('session_not_found', 'no such session')
  }

  /** The live session under handle, provided that ifMatch, when given, is its version. */
  function requireVersion(handle: string, write: WriteOptions, now: number): Entry {
    const entry = requireLive(handle, now)
    assertPrecondition(write.ifMatch, entry.version)
    return entry
  }

  function refresh(entry: Entry, now: number): void {
    table.expireAt(entry, slideExpiry(now, entry.idleTtlMs, entry.absoluteExpiresAt))
    entry.lastSeenAt = now
  }

  function touchOnRead(entry: Entry, access: AccessOptions, now: number): void {
    if (access.touch && refreshDue(now, entry.lastSeenAt, touchIntervalMs)) refresh(entry, now)
  }

  /**
   * Applies changes to distinct keys after the limits accept the result; the
   * version grows once when any data changed (storing the text a key already
   * holds, or deleting a missing key, changes nothing).
   */
  function commit(entry: Entry, changes: readonly DataChange[], write: WriteOptions, now: number): void {
    let keys = entry.data.size
    let bytes = entry.bytes
    let changed = false
    for (const [key, change] of changes) {
      const old = entry.data.get(key)
      if (old !== undefined && old === change?.text) continue
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
      indexes.refile(entry, key, change?.filed ?? [])
    }
    entry.bytes = bytes
    if (changed) {
      entry.version += 1
      entry.view = null
    }
    if (write.touch) refresh(entry, now)
  }

  return {
    kind: 'memory',

    create: (input) => atomically((now) => {
      if (table.findLive(input.handle, now) !== undefined) throw new AppError('conflict', 'a session with this handle exists')
      const entry = newEntry(initialMeta(input, now), input)
      table.link(entry)
      record(entry, now, { type: 'session.created', actor: input.actor })
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
      const session = requireVersion(handle, write, now)
      commit(session, [[entry.key, entry]], write, now)
      return session.version
    }),

    deleteKey: (handle, key, write) => atomically((now) => {
      const session = requireVersion(handle, write, now)
      commit(session, [[key, undefined]], write, now)
      return session.version
    }),

    patch: (handle, batch, write) => atomically((now) => {
      const session = requireVersion(handle, write, now)
      // The batch names each key once, so the changes are to distinct keys.
      const changes: DataChange[] = batch.set.map((entry) => [entry.key, entry])
      for (const key of batch.del) changes.push([key, undefined])
      for (const [key, by] of batch.incr) {
        changes.push([key, storedEntry(key, incrementText(key, session.data.get(key), by), limits, plan)])
      }
      commit(session, changes, write, now)
      return snapshotRecord(session)
    }),

    destroy: (handles, cause) => atomically((now) => table.endAll(handles, cause, now)),

    rotate: (handle, newHandle, { userId, actor }) => atomically((now) => {
      const entry = requireLive(handle, now)
      if (table.findLive(newHandle, now) !== undefined) throw new AppError('conflict', 'a session with the new handle exists')
      table.unlink(entry)
      entry.handle = newHandle
      if (userId !== undefined) {
        entry.userId = userId
        entry.authenticatedAt = now
      }
      table.link(entry)
      table.tombstone(handle, now + ROTATION_GRACE_MS)
      record(entry, now, { type: 'session.rotated', actor, handle, newHandle })
      return snapshotRecord(entry)
    }),

    listUserSessions: (userId) => atomically((now) => table.liveAmong(indexes.ofUser(userId), now).map(snapshotMeta)),

    revokeUserSessions: (userId, { exceptHandle, actor }) => atomically((now) => {
      const ended = table.liveAmong(indexes.ofUser(userId), now).filter((entry) => entry.handle !== exceptHandle)
      const cause: EndCause = { actor, reason: 'revoked' }
      for (const entry of ended) table.end(entry, cause, now)
      return ended.length
    }),

    listByIndex: (key, value, { limit, cursor }) => atomically((now) => {
      // One more than asked for tells whether a next page exists.
      const page = table.liveAmong(indexes.under(key, value, cursor), now, limit + 1)
      const sessionsOnPage = page.slice(0, limit)
      const last = sessionsOnPage.at(-1)
      return {
        sessions: sessionsOnPage.map(snapshotMeta),
        nextCursor: page.length > limit && last !== undefined ? last.handle : null
      }
    }),

    revokeByIndex: (key, value, actor) => atomically((now) => table.endAll([...indexes.under(key, value, null)], { actor, reason: 'revoked' }, now)),

    countSessions: (byKey) => atomically((now) => {
      table.settle(now)
      return { total: table.size(), ...indexes.counts(byKey) }
    }),

    readShardEvents: (positions, limit) => atomically(() => log?.after(positions, limit) ?? positions.map(() => [])),

    eventHeads: () => atomically(() => log?.heads() ?? SHARDS.map(() => null)),

    sweepExpired: () => {
      const before = expiries
      return atomically((now) => {
        table.settle(now)
        return { expired: expiries - before, trimmed: log?.trim(now) ?? 0 }
      })
    },

    deliveries: log === null ? null : createMemoryDeliveries(log, atomically),

    ping: () => atomically(() => undefined),

    close: () => {
      clearInterval(sweep)
      closed = true
      return Promise.resolve()
    },

    stats: () => ({ ...table.stats(), ...indexes.stats() })
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

/** The metadata now with this version's frozen data, as one object literal so that every record has one shape. */
function snapshotRecord(entry: Entry): SessionRecord {
  const { handle, userId, version, authenticatedAt, createdAt, lastSeenAt, expiresAt, absoluteExpiresAt, userAgent, ip } = entry
  return { handle, userId, version, authenticatedAt, createdAt, lastSeenAt, expiresAt, absoluteExpiresAt, userAgent, ip, data: dataView(entry) }
}
