/**
 * What the Redis backend leaves in Redis and how it talks to it: no token in
 * any key or value, one command per read and per write, real key expiry, and
 * store_unavailable (then recovery) when Redis goes away.
 */
import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import { AppError } from '../../src/errors.js'
import { createRedisStore } from '../../src/store/index.js'
import type { RedisStoreOptions } from '../../src/store/redis/index.js'
import type { Store } from '../../src/store/types.js'
import { handleOf, newToken, newTokenInShard, shardOf } from '../../src/tokens.js'
import { startRedisServer } from '../helpers/redis-server.js'
import { DEFAULT_LIMITS } from '../helpers/store.js'

// One server for the file (subtests run in order; some kill and restart it).
// The diskless-sync delay would hold a new replica's first sync for 5 s.
const server = await startRedisServer({ args: ['--repl-diskless-sync-delay', '0'] })
t.teardown(() => server.stop())

let prefixes = 0

function makeStore(t: Test, overrides: Partial<RedisStoreOptions> = {}): Store {
  const store = createRedisStore({
    limits: DEFAULT_LIMITS,
    indexedKeys: ['tenant'],
    touchIntervalMs: 0,
    connection: { mode: 'single', url: server.url },
    keyPrefix: `layout${prefixes++}:`,
    commandTimeoutMs: 500,
    waitReplicas: 0,
    ...overrides
  })
  t.teardown(() => store.close())
  return store
}

function adminClient(t: Test): Redis {
  const admin = new Redis(server.url, { maxRetriesPerRequest: 0 })
  admin.on('error', () => undefined)
  t.teardown(() => {
    admin.disconnect()
  })
  return admin
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Every key under `prefix` with its type, TTL and full contents, as one text per key. */
async function dump(admin: Redis, prefix: string): Promise<Map<string, string>> {
  const keys: string[] = []
  let cursor = '0'
  do {
    const [next, batch] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
    cursor = next
    keys.push(...batch)
  } while (cursor !== '0')
  const out = new Map<string, string>()
  for (const key of keys) {
    const type = await admin.type(key)
    const contents =
      type === 'hash' ? await admin.hgetall(key)
      : type === 'zset' ? await admin.zrange(key, 0, -1, 'WITHSCORES')
      : type === 'set' ? await admin.smembers(key)
      : type === 'string' ? await admin.get(key)
      : `unexpected type ${type}`
    out.set(key, `${type} ${JSON.stringify(contents)}`)
  }
  return out
}

/** Polls ping for up to 5 s (the reconnect backoff is capped at 2 s). */
async function recovers(store: Store): Promise<boolean> {
  for (let i = 0; i < 50; i++) {
    if (await store.ping().then(() => true, () => false)) return true
    await sleep(100)
  }
  return false
}

const codeOf = (err: unknown): string => (err instanceof AppError ? err.code : `not an AppError: ${String(err)}`)

async function rejectsWith(t: Test, p: Promise<unknown>, code: string, what: string): Promise<void> {
  try {
    await p
    t.fail(`${what}: resolved`)
  } catch (err) {
    t.equal(codeOf(err), code, `${what} → ${code}`)
  }
}

t.test('Redis holds handles only, never a token, in the documented layout', async (t) => {
  const store = makeStore(t)
  const admin = adminClient(t)
  const prefix = `layout${prefixes - 1}:`
  const tokens: string[] = []
  const handles: string[] = []
  const base = { idleTtlMs: 60_000, absoluteTtlMs: 600_000, userAgent: 'test-agent', ip: '127.0.0.1' }
  for (let i = 0; i < 6; i++) {
    const token = newToken()
    tokens.push(token)
    handles.push(handleOf(token))
    await store.create({ ...base, handle: handleOf(token), userId: i % 2 === 0 ? 'user-1' : null, data: { tenant: `t${i % 3}`, n: i } })
  }
  const [first, second] = handles as [string, string]
  await store.setKey(first, 'cart', ['a', 'b'], { touch: true })
  await store.patch(second, { set: { tenant: 'moved' }, incr: { n: 5 }, del: ['missing'] }, { touch: true })
  const next = newTokenInShard(shardOf(first))
  tokens.push(next.token)
  await store.rotate(first, next.handle, { userId: 'user-2' })
  handles.push(next.handle)

  const keys = await dump(admin, prefix)
  const everything = [...keys].map(([key, contents]) => `${key} ${contents}`).join('\n')
  for (const token of tokens) t.notOk(everything.includes(token), 'no token appears in any key, field or value')
  for (const handle of handles.slice(1)) t.ok(everything.includes(`s:${handle}`), 'each live session is a hash named by its handle')
  t.ok(keys.has(`${prefix}{${shardOf(first)}}:r:${first}`), 'the rotated-away handle has a tombstone')
  t.notOk(keys.has(`${prefix}{${shardOf(first)}}:s:${first}`), 'the rotated-away hash is gone')

  const layout = /^\{[A-Za-z0-9_-]\}:(s:[A-Za-z0-9_-]{43}|all|u:.+|i:[A-Za-z0-9._:-]+=.*|v:[A-Za-z0-9._:-]+|r:[A-Za-z0-9_-]{43})$/
  for (const key of keys.keys()) t.match(key.slice(prefix.length), layout, `${key} follows redis-keys.ts`)
  for (const key of keys.keys()) {
    const ttl = await admin.pttl(key)
    if (!key.endsWith(':all')) t.ok(ttl > 0, `${key} expires by itself`)
  }
})

t.test('a touching read and a write each cost one command; create costs one', async (t) => {
  const store = makeStore(t)
  const admin = adminClient(t)
  // Connected and its clock measured first (deadlines.ts sends TIME on connecting), so MONITOR starts on a quiet server.
  await store.ping()
  const monitor = await admin.monitor()
  t.teardown(() => {
    monitor.disconnect()
  })
  const seen: { command: string; fromScript: boolean }[] = []
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    seen.push({ command: (args[0] ?? '').toLowerCase(), fromScript: source === 'lua' })
  })
  const cost = async (what: string, op: () => Promise<unknown>): Promise<string[]> => {
    await sleep(100)
    seen.length = 0
    await op()
    await sleep(100)
    // The deadline clock's TIME every few seconds (deadlines.ts) belongs to no request.
    const sent = seen.filter((c) => !c.fromScript && c.command !== 'time').map((c) => c.command)
    const inside = seen.filter((c) => c.fromScript).map((c) => c.command)
    t.comment(`${what}: client sent ${sent.join(', ')}; inside the script: ${inside.join(', ')}`)
    return sent
  }
  const handle = handleOf(newToken())
  const input = { handle, userId: 'u1', data: { tenant: 'acme', a: 1 }, idleTtlMs: 60_000, absoluteTtlMs: 600_000, userAgent: null, ip: null }
  t.strictSame(await cost('create', () => store.create(input)), ['eval'], 'create: one command (EVAL the first time on a connection)')
  t.strictSame(await cost('get (touch)', () => store.get(handle, { touch: true })), ['eval'], 'first read loads its script')
  t.strictSame(await cost('get (touch)', () => store.get(handle, { touch: true })), ['evalsha'], 'a touching read: one EVALSHA')
  await store.getKey(handle, 'a', { touch: true })
  t.strictSame(await cost('getKey (touch)', () => store.getKey(handle, 'a', { touch: true })), ['evalsha'], 'a touching key read: one EVALSHA')
  await store.setKey(handle, 'b', 1, { touch: true })
  t.strictSame(await cost('setKey', () => store.setKey(handle, 'b', 2, { touch: true })), ['evalsha'], 'a write: one EVALSHA')
  t.strictSame(await cost('patch', () => store.patch(handle, { set: { tenant: 'other' }, incr: { a: 1 } }, { touch: true })), ['evalsha'], 'a batch that moves an index: one EVALSHA')
  t.strictSame(
    await cost('create (2nd)', () => store.create({ ...input, handle: handleOf(newToken()) })),
    ['evalsha'],
    'create: one EVALSHA'
  )
})

t.test('with the real clock a session whose idle TTL passes is gone from Redis', async (t) => {
  const store = makeStore(t)
  const admin = adminClient(t)
  const prefix = `layout${prefixes - 1}:`
  const handle = handleOf(newToken())
  await store.create({ handle, userId: 'u1', data: { tenant: 'acme' }, idleTtlMs: 1_000, absoluteTtlMs: 60_000, userAgent: null, ip: null })
  const key = `${prefix}{${shardOf(handle)}}:s:${handle}`
  t.equal(await admin.exists(key), 1, 'the hash exists')
  const ttl = await admin.pttl(key)
  t.ok(ttl > 0 && ttl <= 1_000, `the hash expires with the idle TTL (${ttl} ms)`)
  await sleep(1_300)
  t.equal(await admin.exists(key), 0, 'Redis removed the hash')
  await rejectsWith(t, store.get(handle, { touch: true }), 'session_not_found', 'reading it')
  t.strictSame(await store.listUserSessions('u1'), [], 'the user lists nothing')
  const counts = await store.countSessions('tenant')
  t.strictSame({ total: counts.total, by: { ...counts.by } }, { total: 0, by: {} }, 'nothing is counted')
})

t.test('Redis down: store_unavailable, then recovery without a new store', async (t) => {
  const store = makeStore(t, { commandTimeoutMs: 300 })
  const input = { userId: 'u1', data: { tenant: 'acme' }, idleTtlMs: 60_000, absoluteTtlMs: 600_000, userAgent: null, ip: null }
  const handle = handleOf(newToken())
  await store.create({ ...input, handle })

  server.pause()
  await rejectsWith(t, store.get(handle, { touch: true }), 'store_unavailable', 'a read while Redis does not answer')
  server.resume()
  t.equal((await store.get(handle, { touch: false })).handle, handle, 'answers again once Redis does')

  await server.kill()
  await rejectsWith(t, store.get(handle, { touch: true }), 'store_unavailable', 'get')
  await rejectsWith(t, store.setKey(handle, 'a', 1, { touch: true }), 'store_unavailable', 'setKey')
  await rejectsWith(t, store.create({ ...input, handle: handleOf(newToken()) }), 'store_unavailable', 'create')
  await rejectsWith(t, store.listUserSessions('u1'), 'store_unavailable', 'listUserSessions')
  await rejectsWith(t, store.countSessions(), 'store_unavailable', 'countSessions')
  await rejectsWith(t, store.ping(), 'store_unavailable', 'ping')

  await server.start()
  t.ok(await recovers(store), 'ping answers again')
  const fresh = handleOf(newToken())
  await store.create({ ...input, handle: fresh })
  t.equal((await store.get(fresh, { touch: true })).handle, fresh, 'the same store creates and reads again')
})

t.test('a store created while Redis is down works once Redis starts', async (t) => {
  await server.kill()
  const store = makeStore(t, { commandTimeoutMs: 300 })
  await rejectsWith(t, store.ping(), 'store_unavailable', 'ping before Redis starts')
  await server.start()
  t.ok(await recovers(store), 'ping answers once Redis starts')
})

t.test('waitReplicas: revocations need the replicas to acknowledge', async (t) => {
  const store = makeStore(t, { waitReplicas: 1, commandTimeoutMs: 3000 })
  const input = { userId: 'u1', data: {}, idleTtlMs: 60_000, absoluteTtlMs: 600_000, userAgent: null, ip: null }
  const lonely = handleOf(newToken())
  await store.create({ ...input, handle: lonely })
  await rejectsWith(t, store.destroy(lonely), 'store_unavailable', 'destroy with no replica')

  const replica = await startRedisServer({ args: ['--replicaof', '127.0.0.1', String(server.port)] })
  t.teardown(() => replica.stop())
  const admin = adminClient(t)
  for (let i = 0; i < 100 && !/slave0:.*state=online/.test(await admin.info('replication')); i++) await sleep(100)
  const handle = handleOf(newToken())
  await store.create({ ...input, handle })
  const next = newTokenInShard(shardOf(handle)).handle
  t.equal((await store.rotate(handle, next, {})).handle, next, 'rotate is acknowledged')
  t.equal(await store.revokeUserSessions('u1', { exceptHandle: next }), 0, 'logout-all is acknowledged')
  t.equal(await store.destroy(next), true, 'destroy is acknowledged')
})

t.test('bulk revocation and pruning run in bounded chunks until done', async (t) => {
  let now = Date.now()
  const store = makeStore(t, { clock: () => now })
  const admin = adminClient(t)
  const prefix = `layout${prefixes - 1}:`
  const createMany = async (n: number, data: Record<string, string>, idleTtlMs: number): Promise<void> => {
    for (let i = 0; i < n; i += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, n - i) }, () =>
          store.create({ handle: handleOf(newToken()), userId: 'bulk', data, idleTtlMs, absoluteTtlMs: 3_600_000, userAgent: null, ip: null })
        )
      )
    }
  }
  await createMany(1_200, { tenant: 'big' }, 600_000)
  t.equal(await store.revokeByIndex('tenant', 'big'), 1_200, 'revokeByIndex ends all of them over several calls')
  t.equal((await store.countSessions()).total, 0, 'none is left')

  await createMany(1_200, { tenant: 'brief' }, 60_000)
  await createMany(3, { tenant: 'stays' }, 600_000)
  now += 60_000
  const counts = await store.countSessions('tenant')
  t.strictSame({ total: counts.total, by: { ...counts.by } }, { total: 3, by: { stays: 3 } }, 'counting prunes every expired session first')
  const left = await dump(admin, prefix)
  t.equal([...left.keys()].filter((key) => key.includes(':s:')).length, 3, 'only the live hashes remain')
  t.equal([...left.keys()].filter((key) => key.includes('brief')).length, 0, 'no index entry of an expired session remains')
  t.equal(await store.revokeUserSessions('bulk', {}), 3, 'logout-all counts only live sessions')
})

t.test('a batch of more keys than one Lua call takes reads and writes them all', async (t) => {
  const store = makeStore(t, { indexedKeys: ['k7', 'k240'] })
  const handle = handleOf(newToken())
  const names = Array.from({ length: 250 }, (_, i) => `k${i}`)
  const data = Object.fromEntries(names.map((name, i) => [name, i]))
  await store.create({ handle, userId: null, data, idleTtlMs: 60_000, absoluteTtlMs: 600_000, userAgent: null, ip: null })
  const incremented = await store.patch(handle, { incr: Object.fromEntries(names.map((name) => [name, 1])) }, { touch: true })
  t.strictSame({ ...incremented.data }, Object.fromEntries(names.map((name, i) => [name, i + 1])), 'each increment saw its own current value')
  t.equal(incremented.version, 2, 'one version for the batch')
  t.strictSame(
    (await store.listByIndex('k240', '241', { limit: 10, cursor: null })).sessions.map((s) => s.handle),
    [handle],
    'an indexed key past the first slice moved its index entry'
  )
  const emptied = await store.patch(handle, { del: names.slice(0, 249) }, { touch: true })
  t.strictSame({ ...emptied.data }, { k249: 250 }, 'deleting 249 keys leaves one')
  t.strictSame((await store.listByIndex('k7', '8', { limit: 10, cursor: null })).sessions, [], 'and unindexes them')
})

t.test('each session has exactly one all-set member, in sync with its pairs, and an ended one leaves nothing', async (t) => {
  let now = Date.now()
  const store = makeStore(t, { clock: () => now })
  const admin = adminClient(t)
  const prefix = `layout${prefixes - 1}:`
  const base = { userId: 'org/user "1"', idleTtlMs: 60_000, absoluteTtlMs: 600_000, userAgent: null, ip: null }
  const handles = Array.from({ length: 5 }, () => handleOf(newToken()))
  const [reader, keyReader, writer, dropper, anonymous] = handles as [string, string, string, string, string]
  for (const handle of handles.slice(0, 4)) await store.create({ ...base, handle, data: { tenant: 'a/b', note: 'x' } })
  await store.create({ ...base, handle: anonymous, userId: null, data: {} })

  now += 1_000
  await store.get(reader, { touch: true })
  await store.getKey(keyReader, 'note', { touch: true })
  await store.setKey(writer, 'tenant', 'c\\d', { touch: true })
  await store.patch(dropper, { del: ['tenant'], set: { note: 'y' } }, { touch: true })
  await store.get(anonymous, { touch: true })
  const members = new Map<string, { entry: unknown; score: number }>()
  for (const [key, contents] of await dump(admin, prefix)) {
    if (!key.endsWith(':all')) continue
    const flat = (JSON.parse(contents.slice('zset '.length)) as string[])
    for (let i = 0; i < flat.length; i += 2) {
      const entry = JSON.parse(flat[i] ?? '') as string[]
      t.notOk(members.has(entry[0] ?? ''), `one member for ${entry[0] ?? ''}`)
      members.set(entry[0] ?? '', { entry, score: Number(flat[i + 1]) })
    }
  }
  const expiresAt = now + 60_000
  const createdExpiry = expiresAt - 1_000
  t.strictSame(members.get(reader), { entry: [reader, base.userId, 'tenant', 'a/b'], score: createdExpiry }, 'a touching read left the member as created')
  t.strictSame(members.get(keyReader), { entry: [keyReader, base.userId, 'tenant', 'a/b'], score: createdExpiry }, 'so did a touching key read')
  t.strictSame(members.get(writer), { entry: [writer, base.userId, 'tenant', 'c\\d'], score: expiresAt }, 'a write replaced it with the new value')
  t.strictSame(members.get(dropper), { entry: [dropper, base.userId], score: expiresAt }, 'a write that unindexes left the pairs out')
  t.strictSame(members.get(anonymous), { entry: [anonymous, false], score: createdExpiry }, 'an anonymous session has a false user')
  t.equal(members.size, 5, 'and no other member')

  now += 60_000
  await rejectsWith(t, store.get(reader, { touch: true }), 'session_not_found', 'an expired read')
  await rejectsWith(t, store.getKey(keyReader, 'note', { touch: true }), 'session_not_found', 'an expired key read')
  await rejectsWith(t, store.setKey(writer, 'note', 1, { touch: true }), 'session_not_found', 'an expired write')
  t.equal(await store.destroy(dropper), false, 'destroying an expired session')
  await rejectsWith(t, store.get(anonymous, { touch: false }), 'session_not_found', 'an expired anonymous read')
  t.strictSame([...(await dump(admin, prefix)).keys()], [], 'the sessions ended on sight left no key behind')
})

t.test('a session kept alive by touching reads outlives its all-set score: pruning moves the score up', async (t) => {
  let now = Date.now()
  const store = makeStore(t, { clock: () => now })
  const admin = adminClient(t)
  const prefix = `layout${prefixes - 1}:`
  const input = { userId: 'keeper', data: { tenant: 'kept' }, idleTtlMs: 60_000, absoluteTtlMs: 600_000, userAgent: null, ip: null }
  const handle = handleOf(newToken())
  await store.create({ ...input, handle })
  const all = `${prefix}{${shardOf(handle)}}:all`
  const [member, createdScore] = await admin.zrange(all, 0, -1, 'WITHSCORES')

  now += 50_000
  const read = await store.get(handle, { touch: true })
  t.equal(Number(await admin.zscore(all, member ?? '')), Number(createdScore), 'a touching read leaves the score behind')
  now += 20_000
  await store.create({ ...input, handle: newTokenInShard(shardOf(handle)).handle })
  t.equal((await store.get(handle, { touch: false })).handle, handle, "a create's pruning in its shard keeps it")
  t.equal(Number(await admin.zscore(all, member ?? '')), read.expiresAt, 'and moved its score to the expiry in its hash')
  now += 20_000
  const counts = await store.countSessions('tenant')
  t.strictSame({ total: counts.total, by: { ...counts.by } }, { total: 2, by: { kept: 2 } }, 'counted, with the newer one')
  t.strictSame((await store.listUserSessions('keeper')).length, 2, 'listed')

  now += 60_000
  const after = await store.countSessions('tenant')
  t.strictSame({ total: after.total, by: { ...after.by } }, { total: 0, by: {} }, 'once its expiry passes, pruning ends it')
  t.strictSame([...(await dump(admin, prefix)).keys()], [], 'and nothing is left')
})
