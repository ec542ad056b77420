/**
 * The Redis backend: one hash per session and index sets per shard (keys.ts),
 * changed only by Lua scripts, one per atomic operation (scripts/, loaded by
 * scripts.ts). Each method below runs one script: a single-session one as one
 * call (a read is one EVALSHA of read.lua, a write one of write.lua), a
 * multi-session one over the shards (shards.ts: one call on a single node,
 * one per shard on Cluster). replies.ts decodes what the scripts return;
 * revocations wait for replicas as revocations.ts says, and every write
 * carries a deadline as deadlines.ts says. Webhook delivery state is
 * deliveries.ts's, on the same scripts and shards.
 */
import { shardOf } from '../../tokens.js'
import type { Backend, EncodedBatch } from '../backend.js'
import { byPair } from '../index-entries.js'
import { initialMeta, parseStoredValue } from '../rules.js'
import { ROTATION_GRACE_MS, type RedisConnection, type SessionData, type StoreOptions, type SweepOutcome, type WriteOptions } from '../types.js'
import { closeClient, createRedisClient, readinessGate, storeError } from './client.js'
import { writeDeadlines } from './deadlines.js'
import { createRedisDeliveries } from './deliveries.js'
import { SHARDS, sessionKey } from './keys.js'
import { eventIdOf, list, metaOfRow, nullableText, num, okReply, recordOf, storedEventOf, text } from './replies.js'
import { revocationRunner } from './revocations.js'
import { defineScripts, opt, type Arg, type ScriptName } from './scripts.js'
import { createShards } from './shards.js'

export interface RedisStoreOptions extends StoreOptions {
  readonly connection: RedisConnection
  /** Namespaces every key, e.g. 'sessiond:'. */
  readonly keyPrefix: string
  /** STORE_TIMEOUT_MS: bounds every command, and the wait for a connection. */
  readonly commandTimeoutMs: number
  /** REDIS_WAIT_REPLICAS: revocations wait for this many replicas (0: off). */
  readonly waitReplicas: number
}

/** Expired sessions a create cleans up in passing, so no sweep job is needed. */
const CREATE_PRUNE_BUDGET = 20
/** Sessions one multi-session script may end or clean up before it yields. */
const CHUNK = 500

export function createRedisBackend(options: RedisStoreOptions): Backend {
  const { limits, commandTimeoutMs, waitReplicas, keyPrefix: prefix, touchIntervalMs } = options
  const clock = options.clock ?? Date.now
  const indexed = new Set(options.indexedKeys)
  const client = createRedisClient(options.connection, commandTimeoutMs)
  const scripts = defineScripts(client)
  const ready = readinessGate(client, commandTimeoutMs)
  const deadlines = writeDeadlines(client, commandTimeoutMs)

  /** Runs a script once the client is connected; connection trouble becomes store_unavailable. */
  async function run(name: ScriptName, keys: readonly string[], args: readonly Arg[]): Promise<unknown> {
    const waiting = ready()
    if (waiting !== null) await waiting
    try {
      return await deadlines.guard(name, (leading) => scripts[name](...keys, ...leading, ...args))
    } catch (err) {
      throw storeError(err)
    }
  }
  const revoke = revocationRunner({ client, ready, run, deadlines, waitReplicas, commandTimeoutMs })
  const shards = createShards({ perShard: options.connection.mode === 'cluster', prefix, run, revoke })
  /** Every script that may end a session gets it: '' without events, else the retention (lib.lua eventsOf). */
  const events = options.events === undefined ? '' : opt(options.events.retentionMs)

  /** sweep.lua over every shard, in chunks until no expired session is left. */
  async function sweepExpired(): Promise<SweepOutcome> {
    let expired = 0
    let trimmed = 0
    await shards.inChunks('sweep', () => [prefix, clock(), events, CHUNK], (reply) => {
      const [, more, ended, dropped] = list(reply)
      expired += num(ended)
      trimmed += num(dropped)
      return num(more) !== 0
    })
    return { expired, trimmed }
  }

  /** write.lua, for setKey, deleteKey and patch: the batch applied at once, replying with the new version or the whole session. */
  async function write(handle: string, batch: EncodedBatch, options: WriteOptions, reply: 'version' | 'record'): Promise<unknown[]> {
    const args: Arg[] = [
      prefix,
      handle,
      clock(),
      options.touch ? '1' : '0',
      opt(options.ifMatch),
      limits.maxKeys,
      limits.maxSessionBytes,
      reply,
      batch.set.length,
      batch.del.length,
      batch.incr.length,
      events
    ]
    for (const { key, text, filed } of batch.set) args.push(key, text, filed.length === 0 ? '' : JSON.stringify(filed.flat()))
    args.push(...batch.del)
    for (const [key, by] of batch.incr) args.push(key, by, indexed.has(key) ? '1' : '0')
    return okReply(await run('write', [sessionKey(prefix, handle)], args))
  }

  return {
    kind: 'redis',

    /** create.lua: the session's hash and its index entries; the record is built here from the input. */
    async create(input) {
      const { entries, bytes } = input
      const pairs = entries.flatMap(({ filed }) => filed).sort(byPair).flat()
      const now = clock()
      const reply = await run('create', [sessionKey(prefix, input.handle)], [
        prefix,
        input.handle,
        now,
        input.idleTtlMs,
        input.absoluteTtlMs,
        opt(input.userId),
        opt(input.userAgent),
        opt(input.ip),
        bytes,
        CREATE_PRUNE_BUDGET,
        events,
        input.actor,
        entries.length,
        ...entries.flatMap(({ key, text }) => [key, text]),
        ...pairs
      ])
      okReply(reply)
      const data = Object.create(null) as SessionData
      for (const { key, text } of entries) data[key] = parseStoredValue(text)
      return { ...initialMeta(input, now), data }
    },

    /** read.lua: the whole session; a touching read slides its expiry when due. */
    async get(handle, options) {
      const reply = await run('read', [sessionKey(prefix, handle)], [prefix, handle, clock(), options.touch ? '1' : '0', touchIntervalMs, events])
      const [flat] = okReply(reply)
      return recordOf(handle, flat)
    },

    /** read-key.lua: one data key, with the same sliding as get. */
    async getKey(handle, key, options) {
      const reply = await run('readKey', [sessionKey(prefix, handle)], [prefix, handle, clock(), options.touch ? '1' : '0', touchIntervalMs, key, events])
      const [version, json] = okReply(reply)
      const stored = nullableText(json)
      return { value: stored === null ? undefined : parseStoredValue(stored), version: num(version) }
    },

    async setKey(handle, entry, options) {
      const [version] = await write(handle, { set: [entry], del: [], incr: [] }, options, 'version')
      return num(version)
    },

    async deleteKey(handle, key, options) {
      const [version] = await write(handle, { set: [], del: [key], incr: [] }, options, 'version')
      return num(version)
    },

    async patch(handle, batch, options) {
      const [flat] = await write(handle, batch, options, 'record')
      return recordOf(handle, flat)
    },

    /** destroy.lua over the handles, grouped by shard on Cluster. */
    destroy: (handles, { actor, reason }) => shards.revokeHandles('destroy', handles, () => [prefix, clock(), events, actor, reason]),

    /** rotate.lua: both handles share a shard, so one call moves the session. */
    async rotate(handle, newHandle, options) {
      const reply = await revoke('rotate', [sessionKey(prefix, handle), sessionKey(prefix, newHandle)], [
        prefix,
        handle,
        newHandle,
        clock(),
        opt(options.userId),
        ROTATION_GRACE_MS,
        events,
        options.actor
      ])
      const [flat] = okReply(reply)
      return recordOf(newHandle, flat)
    },

    /** list-user.lua over every shard. */
    async listUserSessions(userId) {
      const replies = await shards.overShards('listUser', SHARDS, () => [prefix, clock(), userId, CHUNK, events])
      return replies.flatMap((reply) => list(reply).map(metaOfRow))
    },

    /** revoke-user.lua over every shard, in chunks until none of the user's sessions is left. */
    revokeUserSessions: (userId, options) =>
      shards.revokeAcrossShards('revokeUser', () => [prefix, clock(), userId, opt(options.exceptHandle), CHUNK, events, options.actor]),

    /** list-index.lua over the shards from the cursor's on, which hold the handles after it. */
    async listByIndex(key, value, options) {
      const { limit, cursor } = options
      const from = cursor === null ? SHARDS : SHARDS.slice(SHARDS.indexOf(shardOf(cursor)))
      const replies = await shards.overShards('listIndex', from, () => [prefix, clock(), key, value, opt(cursor), limit + 1, CHUNK, events])
      const rows = replies.flatMap(list).slice(0, limit + 1)
      const sessions = rows.slice(0, limit).map(metaOfRow)
      const last = sessions[sessions.length - 1]
      return { sessions, nextCursor: rows.length > limit && last !== undefined ? last.handle : null }
    },

    /** revoke-index.lua over every shard, in chunks until none with the value is left. */
    revokeByIndex: (key, value, actor) => shards.revokeAcrossShards('revokeIndex', () => [prefix, clock(), key, value, CHUNK, events, actor]),

    /** count.lua over every shard: it prunes in chunks, then counts. */
    async countSessions(byKey) {
      let total = 0
      let filed = 0
      const by: Record<string, number> = Object.create(null) as Record<string, number>
      await shards.inChunks('count', () => [prefix, clock(), opt(byKey), CHUNK, events], (reply) => {
        const [more, count, values, filedCount] = list(reply)
        if (num(more) !== 0) return true
        total += num(count)
        filed += num(filedCount)
        const flat = list(values)
        for (let i = 0; i < flat.length; i += 2) {
          const value = text(flat[i])
          by[value] = (by[value] ?? 0) + num(flat[i + 1])
        }
        return false
      })
      return { total, by, filed }
    },

    /** read-events.lua over every shard: each stream after its position. */
    async readShardEvents(positions, limit) {
      const after = new Map(SHARDS.map((shard, i) => [shard, positions[i] ?? null]))
      const replies = await shards.overShards('readEvents', SHARDS, () => [prefix, limit], (shard) => {
        const position = after.get(shard) ?? null
        return [shard, position === null ? '' : opt(`${position.ms}-${position.seq}`)]
      })
      return replies.flatMap(list).map((entries) => list(entries).map(storedEventOf))
    },

    async eventHeads() {
      const replies = await shards.overShards('readEvents', SHARDS, () => [prefix, 0], (shard) => [shard, ''])
      return replies.flatMap(list).map((id) => (id === null ? null : eventIdOf(id)))
    },

    sweepExpired,

    deliveries: options.events === undefined ? null : createRedisDeliveries(prefix, run, shards),

    async ping() {
      await ready()
      try {
        await client.ping()
      } catch (err) {
        throw storeError(err)
      }
    },

    close() {
      deadlines.close()
      return closeClient(client, commandTimeoutMs)
    }
  }
}
