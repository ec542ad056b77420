/**
 * The Redis backend: one hash per session, index sets per shard, and one Lua
 * script per atomic operation (src/store/redis/scripts, assembled by redis-scripts.ts,
 * key layout in redis-keys.ts).
 * Single-session operations are one EVALSHA; multi-session ones run a script
 * over a list of shards: once with all of them on one node, once per shard
 * (concurrently) on Cluster, merged here the same way in both cases.
 */
import { readFileSync } from 'node:fs'
import type { ChainableCommander } from 'ioredis'
import type { RedisConnection } from '../types.js'
import { shardOf } from '../../tokens.js'
import type { Backend, EncodedBatch } from '../backend.js'
import { createRedisClient, readinessGate, storeError, unavailable, type RedisClient } from './client.js'
import { list, metaOfRow, nullableText, num, okReply, recordOf, text } from './replies.js'
import { SHARDS, sessionKey, shardPrefix } from './keys.js'
import { libDefinitions, withLib } from './scripts.js'
import { initialMeta, parseStoredValue } from '../rules.js'
import { ROTATION_GRACE_MS, type SessionData, type SessionMeta, type SessionRecord, type StoreOptions, type WriteOptions } from '../types.js'

export interface RedisStoreOptions extends StoreOptions {
  readonly connection: RedisConnection
  /** Namespaces every key, e.g. 'sessiond:'. */
  readonly keyPrefix: string
  /** STORE_TIMEOUT_MS: bounds every command, and the wait for a connection. */
  readonly commandTimeoutMs: number
  /** REDIS_WAIT_REPLICAS: revocations wait for this many replicas (0: off). */
  readonly waitReplicas: number
}

const SCRIPTS = {
  create: { file: 'create.lua', keys: 1 },
  read: { file: 'read.lua', keys: 1 },
  readKey: { file: 'read-key.lua', keys: 1 },
  write: { file: 'write.lua', keys: 1 },
  destroy: { file: 'destroy.lua', keys: 1 },
  rotate: { file: 'rotate.lua', keys: 2 },
  listUser: { file: 'list-user.lua', keys: 1 },
  revokeUser: { file: 'revoke-user.lua', keys: 1 },
  listIndex: { file: 'list-index.lua', keys: 1 },
  revokeIndex: { file: 'revoke-index.lua', keys: 1 },
  count: { file: 'count.lua', keys: 1 }
} as const

type ScriptName = keyof typeof SCRIPTS
type Arg = string | number

/** Expired sessions a create cleans up in passing, so no sweep job is needed. */
const CREATE_PRUNE_BUDGET = 20
/** Sessions one multi-session script may end or clean up before it yields. */
const CHUNK = 500

const commandName = (name: ScriptName): string => `sessiond_${name}`

function readScript(file: string): string {
  return readFileSync(new URL(`./scripts/${file}`, import.meta.url), 'utf8')
}

function defineScripts(client: RedisClient): void {
  const lib = libDefinitions(readScript('lib.lua'))
  for (const [name, { file, keys }] of Object.entries(SCRIPTS)) {
    client.defineCommand(commandName(name as ScriptName), { numberOfKeys: keys, lua: withLib(lib, readScript(file)) })
  }
}

/** A defined script as a method of the client or of a pipeline. */
function scriptMethod<R>(target: RedisClient | ChainableCommander, name: ScriptName): (...args: Arg[]) => R {
  const method = (target as unknown as Record<string, ((...args: Arg[]) => R) | undefined>)[commandName(name)]
  if (method === undefined) throw new Error(`script ${name} is not defined`)
  return method.bind(target)
}
/** Optional script arguments: '' for none, else '=' and the value (so '' stays a value). */
const opt = (value: string | number | null | undefined): string => (value === null || value === undefined ? '' : `=${value}`)

export function createRedisBackend(options: RedisStoreOptions): Backend {
  const { limits, commandTimeoutMs, waitReplicas, keyPrefix: prefix } = options
  const { touchIntervalMs } = options
  const clock = options.clock ?? Date.now
  const indexed = new Set(options.indexedKeys)
  const client = createRedisClient(options.connection, commandTimeoutMs)
  defineScripts(client)
  const ready = readinessGate(client, commandTimeoutMs)
  const perShard = options.connection.mode === 'cluster'
  // Bound once: every request calls one.
  const scripts = Object.fromEntries(
    Object.keys(SCRIPTS).map((name) => [name, scriptMethod<Promise<unknown>>(client, name as ScriptName)])
  ) as Record<ScriptName, (...args: Arg[]) => Promise<unknown>>

  async function run(name: ScriptName, keys: readonly string[], args: readonly Arg[]): Promise<unknown> {
    const waiting = ready()
    if (waiting !== null) await waiting
    try {
      return await scripts[name](...keys, ...args)
    } catch (err) {
      throw storeError(err)
    }
  }

  /**
   * A revocation: with waitReplicas, pipelined with WAIT on the same
   * connection (so on Cluster it reaches the primary that took the write).
   */
  async function runRevocation(name: ScriptName, keys: readonly string[], args: readonly Arg[]): Promise<unknown> {
    if (waitReplicas === 0) return run(name, keys, args)
    await ready()
    const pipeline = client.pipeline()
    scriptMethod<ChainableCommander>(pipeline, name)(...keys, ...args)
    // Shorter than the command timeout, so that a shortfall comes back as a count.
    pipeline.wait(waitReplicas, Math.max(1, Math.floor(commandTimeoutMs * 0.8)))
    let results: [Error | null, unknown][] | null
    try {
      results = await pipeline.exec()
    } catch (err) {
      throw storeError(err)
    }
    const [script, wait] = results ?? []
    if (script === undefined || wait === undefined) throw unavailable('redis: no reply')
    if (script[0] !== null) throw storeError(script[0])
    if (wait[0] !== null) throw storeError(wait[0])
    const acks = num(wait[1])
    if (acks < waitReplicas) throw unavailable(`only ${acks} of ${waitReplicas} replicas acknowledged the revocation`)
    return script[1]
  }

  /** Shards grouped per call: all in one on a single node, one each on Cluster. */
  const shardGroups = (shards: readonly string[]): (readonly string[])[] => (perShard ? shards.map((s) => [s]) : [shards])
  /** A key in the group's (first) shard: it only routes the call on Cluster. */
  const routeKey = (shards: readonly string[]): string => `${shardPrefix(prefix, shards[0] ?? '')}all`

  async function overShards(name: ScriptName, shards: readonly string[], args: () => readonly Arg[]): Promise<unknown[]> {
    return Promise.all(shardGroups(shards).map((group) => run(name, [routeKey(group)], [...args(), ...group])))
  }

  /** Runs a chunked revocation script until it reports nothing left; resolves to how many it ended. */
  async function revokeAll(name: 'revokeUser' | 'revokeIndex', args: () => readonly Arg[]): Promise<number> {
    const counts = await Promise.all(
      shardGroups(SHARDS).map(async (group) => {
        let ended = 0
        for (;;) {
          const [n, more] = list(await runRevocation(name, [routeKey(group)], [...args(), ...group]))
          ended += num(n)
          if (num(more) === 0) return ended
        }
      })
    )
    return counts.reduce((a, b) => a + b, 0)
  }

  /** Handles grouped per call, like shardGroups. */
  function handleGroups(handles: readonly string[]): (readonly string[])[] {
    if (!perShard) return [handles]
    const groups = new Map<string, string[]>()
    for (const handle of handles) {
      const group = groups.get(shardOf(handle))
      if (group === undefined) groups.set(shardOf(handle), [handle])
      else group.push(handle)
    }
    return [...groups.values()]
  }

  async function destroyHandles(handles: readonly string[]): Promise<number> {
    if (handles.length === 0) return 0
    const counts = await Promise.all(
      handleGroups(handles).map(async (group) => num(await runRevocation('destroy', [sessionKey(prefix, group[0] ?? '')], [prefix, clock(), ...group])))
    )
    return counts.reduce((a, b) => a + b, 0)
  }

  async function userSessions(userId: string): Promise<SessionMeta[]> {
    const replies = await overShards('listUser', SHARDS, () => [prefix, clock(), userId, CHUNK])
    return replies.flatMap((reply) => list(reply).map(metaOfRow))
  }

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
      batch.incr.length
    ]
    for (const { key, text, indexValue } of batch.set) args.push(key, text, opt(indexValue))
    args.push(...batch.del)
    for (const [key, by] of batch.incr) args.push(key, by, indexed.has(key) ? '1' : '0')
    return okReply(await run('write', [sessionKey(prefix, handle)], args))
  }

  async function read(handle: string, touch: boolean): Promise<SessionRecord> {
    const reply = await run('read', [sessionKey(prefix, handle)], [prefix, handle, clock(), touch ? '1' : '0', touchIntervalMs])
    const [flat] = okReply(reply)
    return recordOf(handle, flat)
  }

  return {
    kind: 'redis',

    async create(input) {
      const { entries, bytes } = input
      const pairs: string[] = []
      for (const { key, indexValue } of [...entries].sort((a, b) => (a.key < b.key ? -1 : 1))) {
        if (indexValue !== null) pairs.push(key, indexValue)
      }
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
        entries.length,
        ...entries.flatMap(({ key, text }) => [key, text]),
        ...pairs
      ])
      okReply(reply)
      const data = Object.create(null) as SessionData
      for (const { key, text } of entries) data[key] = parseStoredValue(text)
      return { ...initialMeta(input, now), data }
    },

    get: (handle, options) => read(handle, options.touch),

    async getKey(handle, key, options) {
      const reply = await run('readKey', [sessionKey(prefix, handle)], [prefix, handle, clock(), options.touch ? '1' : '0', touchIntervalMs, key])
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

    destroy: destroyHandles,

    async rotate(handle, newHandle, options) {
      const reply = await runRevocation('rotate', [sessionKey(prefix, handle), sessionKey(prefix, newHandle)], [
        prefix,
        handle,
        newHandle,
        clock(),
        opt(options.userId),
        ROTATION_GRACE_MS
      ])
      const [flat] = okReply(reply)
      return recordOf(newHandle, flat)
    },

    listUserSessions: userSessions,

    async revokeUserSessions(userId, options) {
      return revokeAll('revokeUser', () => [prefix, clock(), userId, opt(options.exceptHandle), CHUNK])
    },

    async listByIndex(key, value, options) {
      const { limit, cursor } = options
      const shards = cursor === null ? SHARDS : SHARDS.slice(SHARDS.indexOf(shardOf(cursor)))
      const replies = await overShards('listIndex', shards, () => [prefix, clock(), key, value, opt(cursor), limit + 1, CHUNK])
      const rows = replies.flatMap(list).slice(0, limit + 1)
      const sessions = rows.slice(0, limit).map(metaOfRow)
      const last = sessions[sessions.length - 1]
      return { sessions, nextCursor: rows.length > limit && last !== undefined ? last.handle : null }
    },

    async revokeByIndex(key, value) {
      return revokeAll('revokeIndex', () => [prefix, clock(), key, value, CHUNK])
    },

    async countSessions(byKey) {
      let total = 0
      const by: Record<string, number> = Object.create(null) as Record<string, number>
      await Promise.all(
        shardGroups(SHARDS).map(async (group) => {
          for (;;) {
            const [more, count, values] = list(await run('count', [routeKey(group)], [prefix, clock(), opt(byKey), CHUNK, ...group]))
            if (num(more) === 0) {
              total += num(count)
              const flat = list(values)
              for (let i = 0; i < flat.length; i += 2) {
                const value = text(flat[i])
                by[value] = (by[value] ?? 0) + num(flat[i + 1])
              }
              return
            }
          }
        })
      )
      return { total, by }
    },

    async ping() {
      await ready()
      try {
        await client.ping()
      } catch (err) {
        throw storeError(err)
      }
    },

    async close() {
      let timer: NodeJS.Timeout | undefined
      const timedOut = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), commandTimeoutMs)
      })
      const quit = client.quit().then(
        () => true,
        () => false
      )
      const clean = await Promise.race([quit, timedOut])
      clearTimeout(timer)
      if (!clean) client.disconnect()
    }
  }
}
