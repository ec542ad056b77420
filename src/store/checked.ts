/**
 * checkedStore(backend): the Store every caller uses. It applies, once, the
 * rules both backends share (src/store/rules.ts), so that a backend only
 * stores: inputs are validated and encoded before a backend sees them (every
 * string valid UTF-16, so that Redis's UTF-8 and memory keep the same text),
 * user listings are put in one order, and the per-user limit picks its
 * victims here and has the backend end them.
 */
import { shardOf } from '../tokens.js'
import type { Backend } from './backend.js'
import { SYSTEM_ACTOR, assertEventLimit, assertFresh, decodeCursor, encodeCursor, firstShardCount, mergePage, startState } from './events.js'
import { indexPlan } from './index-entries.js'
import {
  assertDataKey,
  assertIndexedKey,
  assertIndexValue,
  assertPage,
  assertText,
  byMostRecentUse,
  encodeBatch,
  encodeData,
  encodeEntry,
  storedUserAgent,
  userLimitVictims
} from './rules.js'
import type { SessionRecord, Store, StoreOptions } from './types.js'

/** Runs the synchronous checks of a call, so that a refused input is a rejection like any other failure. */
function checkedCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return call()
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)))
  }
}

export function checkedStore(backend: Backend, options: StoreOptions): Store {
  const { limits } = options
  const plan = indexPlan(options.indexedKeys)
  const clock = options.clock ?? Date.now
  const retentionMs = options.events?.retentionMs ?? Infinity

  /** MAX_SESSIONS_PER_USER, after the record's session was bound to its user (see userLimitVictims). */
  async function enforceUserLimit(record: SessionRecord): Promise<SessionRecord> {
    if (limits.maxSessionsPerUser === null || record.userId === null) return record
    const victims = userLimitVictims(await backend.listUserSessions(record.userId), record.handle, limits.maxSessionsPerUser)
    if (victims.length > 0) await backend.destroy(victims, { actor: SYSTEM_ACTOR, reason: 'evicted' })
    return record
  }

  return {
    kind: backend.kind,
    deliveries: backend.deliveries,
    sweepExpired: () => backend.sweepExpired(),

    async create(input, change) {
      const { handle, userId, idleTtlMs, absoluteTtlMs, ip } = input
      if (userId !== null) assertText('userId', userId)
      if (ip !== null) assertText('ip', ip)
      const userAgent = storedUserAgent(input.userAgent)
      const { entries, bytes } = encodeData(input.data, limits, plan)
      const actor = change?.actor ?? SYSTEM_ACTOR
      return enforceUserLimit(await backend.create({ handle, userId, idleTtlMs, absoluteTtlMs, userAgent, ip, entries, bytes, actor }))
    },

    get: (handle, access) => backend.get(handle, access),

    getKey: (handle, key, access) => checkedCall(() => {
      assertDataKey(key)
      return backend.getKey(handle, key, access)
    }),

    setKey: (handle, key, value, write) => checkedCall(() => {
      assertDataKey(key)
      return backend.setKey(handle, encodeEntry(key, value, limits, plan), write)
    }),

    deleteKey: (handle, key, write) => checkedCall(() => {
      assertDataKey(key)
      return backend.deleteKey(handle, key, write)
    }),

    patch: (handle, ops, write) => checkedCall(() => backend.patch(handle, encodeBatch(ops, limits, plan), write)),

    destroy: async (handle, change) =>
      (await backend.destroy([handle], { actor: change?.actor ?? SYSTEM_ACTOR, reason: change?.reason ?? 'destroyed' })) > 0,

    async rotate(handle, newHandle, rotation) {
      if (rotation.userId !== undefined) assertText('userId', rotation.userId)
      if (shardOf(newHandle) !== shardOf(handle)) {
        // A caller bug, but a gone session still answers as gone.
        await backend.get(handle, { touch: false })
        throw new Error('a rotation must stay in its shard (tokens.newTokenInShard)')
      }
      const { userId, actor = SYSTEM_ACTOR } = rotation
      const record = await backend.rotate(handle, newHandle, userId === undefined ? { actor } : { userId, actor })
      // Only a rotation that binds a user adds a session to that user.
      return userId === undefined ? record : enforceUserLimit(record)
    },

    async listUserSessions(userId) {
      assertText('userId', userId)
      return (await backend.listUserSessions(userId)).sort(byMostRecentUse)
    },

    revokeUserSessions: (userId, { exceptHandle, actor = SYSTEM_ACTOR }) => checkedCall(() => {
      assertText('userId', userId)
      return backend.revokeUserSessions(userId, exceptHandle === undefined ? { actor } : { exceptHandle, actor })
    }),

    listByIndex: (key, value, page) => checkedCall(() => {
      assertIndexedKey(key, plan)
      assertIndexValue(value)
      assertPage(page.limit, page.cursor)
      return backend.listByIndex(key, value, page)
    }),

    revokeByIndex: (key, value, change) => checkedCall(() => {
      assertIndexedKey(key, plan)
      assertIndexValue(value)
      return backend.revokeByIndex(key, value, change?.actor ?? SYSTEM_ACTOR)
    }),

    countSessions: (byKey) => checkedCall(async () => {
      if (byKey !== undefined) assertIndexedKey(byKey, plan)
      const { total, by, filed } = await backend.countSessions(byKey)
      return { total, by, without: byKey === undefined ? null : total - filed }
    }),

    readEvents: (after, limit) => checkedCall(async () => {
      assertEventLimit(limit)
      const now = clock()
      if (after === 'now') {
        const positions = await backend.eventHeads()
        return { events: [], nextCursor: encodeCursor({ issuedAt: now, positions }), cursors: [] }
      }
      const state = after === null ? startState(now) : decodeCursor(after)
      assertFresh(state, now, retentionMs)
      // Few per shard first; more only when the events sit in few shards.
      for (let count = firstShardCount(limit); ; count = Math.min(limit, count * 4)) {
        const { short, ...page } = mergePage(state, await backend.readShardEvents(state.positions, count), count, limit, now)
        if (!short) return page
      }
    }),

    ping: () => backend.ping(),
    close: () => backend.close()
  }
}
