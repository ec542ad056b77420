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

  /** MAX_SESSIONS_PER_USER, after the record's session was bound to its user (see userLimitVictims). */
  async function enforceUserLimit(record: SessionRecord): Promise<SessionRecord> {
    if (limits.maxSessionsPerUser === null || record.userId === null) return record
    const victims = userLimitVictims(await backend.listUserSessions(record.userId), record.handle, limits.maxSessionsPerUser)
    if (victims.length > 0) await backend.destroy(victims)
    return record
  }

  return {
    kind: backend.kind,

    async create(input) {
      const { handle, userId, idleTtlMs, absoluteTtlMs, ip } = input
      if (userId !== null) assertText('userId', userId)
      if (ip !== null) assertText('ip', ip)
      const userAgent = storedUserAgent(input.userAgent)
      const { entries, bytes } = encodeData(input.data, limits, plan)
      return enforceUserLimit(await backend.create({ handle, userId, idleTtlMs, absoluteTtlMs, userAgent, ip, entries, bytes }))
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

    destroy: async (handle) => (await backend.destroy([handle])) > 0,

    async rotate(handle, newHandle, rotation) {
      if (rotation.userId !== undefined) assertText('userId', rotation.userId)
      if (shardOf(newHandle) !== shardOf(handle)) {
        // A caller bug, but a gone session still answers as gone.
        await backend.get(handle, { touch: false })
        throw new Error('a rotation must stay in its shard (tokens.newTokenInShard)')
      }
      const record = await backend.rotate(handle, newHandle, rotation)
      // Only a rotation that binds a user adds a session to that user.
      return rotation.userId === undefined ? record : enforceUserLimit(record)
    },

    async listUserSessions(userId) {
      assertText('userId', userId)
      return (await backend.listUserSessions(userId)).sort(byMostRecentUse)
    },

    revokeUserSessions: (userId, revocation) => checkedCall(() => {
      assertText('userId', userId)
      return backend.revokeUserSessions(userId, revocation)
    }),

    listByIndex: (key, value, page) => checkedCall(() => {
      assertIndexedKey(key, plan)
      assertIndexValue(value)
      assertPage(page.limit, page.cursor)
      return backend.listByIndex(key, value, page)
    }),

    revokeByIndex: (key, value) => checkedCall(() => {
      assertIndexedKey(key, plan)
      assertIndexValue(value)
      return backend.revokeByIndex(key, value)
    }),

    countSessions: (byKey) => checkedCall(async () => {
      if (byKey !== undefined) assertIndexedKey(byKey, plan)
      const { total, by, filed } = await backend.countSessions(byKey)
      return { total, by, without: byKey === undefined ? null : total - filed }
    }),

    ping: () => backend.ping(),
    close: () => backend.close()
  }
}
