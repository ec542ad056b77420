/**
 * Scale checks of the user index and the secondary indexes, on both backends
 * (memory, and Redis on a throwaway redis-server):
 *
 * - 10,000 sessions over 50 tenants and 97 users: counts exact, every tenant
 *   paged to the end with a small limit (each session exactly once), every
 *   user listed exactly; again after a slice expires (fake clock) and a slice
 *   is destroyed. The time of one count call at 1,000 and at 10,000 sessions
 *   is measured and printed (`t.comment`), never asserted.
 * - A user who logs in every day for a year, each session expiring before the
 *   next login, leaves a bounded number of entries behind (not one per day).
 */
import { performance } from 'node:perf_hooks'
import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import { checkedStore } from '../../src/store/checked.js'
import { createRedisStore } from '../../src/store/index.js'
import { createMemoryBackend, type MemoryBackend, type MemoryStoreStats } from '../../src/store/memory/index.js'
import { SHARDS, shardPrefix } from '../../src/store/redis/keys.js'
import type { Store } from '../../src/store/types.js'
import { handleOf, newToken } from '../../src/tokens.js'
import { startRedisServer } from '../helpers/redis-server.js'
import { fakeClock, type FakeClock } from '../helpers/clock.js'
import { DEFAULT_LIMITS } from '../helpers/store.js'

const server = await startRedisServer()
const admin = new Redis(server.url)
const stores: Store[] = []
t.teardown(async () => {
  await Promise.allSettled(stores.map((store) => store.close()))
  admin.disconnect()
  await server.stop()
})

type BackendName = 'memory' | 'redis'
let prefixes = 0
const memoryBackends = new Map<Store, MemoryBackend>()
const memoryStoreStats = (store: Store): MemoryStoreStats => (memoryBackends.get(store) as MemoryBackend).stats()

function memoryStore(options: Parameters<typeof createMemoryBackend>[0]): Store {
  const backend = createMemoryBackend(options)
  const store = checkedStore(backend, options)
  memoryBackends.set(store, backend)
  return store
}

/** A store with INDEXED_KEYS=tenant on the named backend; for Redis also its key prefix. */
function makeStore(backend: BackendName, clock: FakeClock): { store: Store; prefix: string } {
  const options = { limits: DEFAULT_LIMITS, indexedKeys: ['tenant'], touchIntervalMs: 0, clock: clock.now }
  const prefix = `scale${prefixes++}:`
  const store =
    backend === 'memory'
      ? memoryStore(options)
      : createRedisStore({ ...options, connection: { mode: 'single', url: server.url }, keyPrefix: prefix, commandTimeoutMs: 10_000, waitReplicas: 0 })
  stores.push(store)
  return { store, prefix }
}

const MINUTE = 60_000
// Real Redis key TTLs follow these too; they outlast the file's run time, and
// the fake clock never falls behind real time, so only the fake clock expires.
const SHORT_IDLE_MS = 10 * MINUTE
const LONG_IDLE_MS = 60 * MINUTE
const ABSOLUTE_MS = 120 * MINUTE

const SESSIONS = 10_000
const FIRST_STEP = 1_000
const TENANTS = Array.from({ length: 50 }, (_, i) => `tenant-${String(i).padStart(2, '0')}`)
const USERS = 97
const BATCH = 500
const PAGE_LIMIT = 37

/** A deterministic PRNG (mulberry32): the same spread on every run and backend. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = a
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

/** What the test expects of one session. */
interface Planned {
  readonly handle: string
  readonly tenant: string
  readonly userId: string | null
  /** Expires when the clock moves SHORT_IDLE_MS on. */
  readonly shortLived: boolean
  /** Destroyed one by one in the destroy slice. */
  readonly doomed: boolean
  ended: boolean
}

function plan(): Planned[] {
  const random = prng(4)
  return Array.from({ length: SESSIONS }, (_, i) => {
    const roll = random()
    return {
      handle: handleOf(newToken()),
      tenant: TENANTS[i % TENANTS.length] as string,
      userId: random() < 0.2 ? null : `user-${Math.floor(random() * USERS)}`,
      shortLived: roll < 0.1,
      doomed: roll >= 0.1 && roll < 0.2,
      ended: false
    }
  })
}

/** Creates sessions in concurrent batches (on Redis: pipelined on the one connection). */
async function createAll(store: Store, sessions: readonly Planned[]): Promise<void> {
  for (let i = 0; i < sessions.length; i += BATCH) {
    await Promise.all(
      sessions.slice(i, i + BATCH).map((s) =>
        store.create({
          handle: s.handle,
          userId: s.userId,
          data: { tenant: s.tenant, cart: ['book'] },
          idleTtlMs: s.shortLived ? SHORT_IDLE_MS : LONG_IDLE_MS,
          absoluteTtlMs: ABSOLUTE_MS,
          userAgent: 'scale-test',
          ip: '192.0.2.1'
        })
      )
    )
  }
}

/** The median time of one call, after a few warm-up calls. */
async function medianMs(call: () => Promise<unknown>, runs = 15): Promise<number> {
  for (let i = 0; i < 3; i++) await call()
  const times: number[] = []
  for (let i = 0; i < runs; i++) {
    const start = performance.now()
    await call()
    times.push(performance.now() - start)
  }
  times.sort((a, b) => a - b)
  return times[Math.floor(times.length / 2)] as number
}

interface CountTimes {
  readonly byTenant: number
  readonly total: number
}

async function timeCounts(store: Store): Promise<CountTimes> {
  return { byTenant: await medianMs(() => store.countSessions('tenant')), total: await medianMs(() => store.countSessions()) }
}

const sortedHandles = (sessions: readonly { handle: string }[]): string[] => sessions.map((s) => s.handle).sort()

/** Counts, every tenant paged to the end, every user listed: all exactly as planned. */
async function verify(t: Test, store: Store, planned: readonly Planned[], what: string): Promise<void> {
  const live = planned.filter((s) => !s.ended)
  const expectedBy: Record<string, number> = {}
  const expectedByTenant: Record<string, string[]> = {}
  const expectedByUser: Record<string, string[]> = {}
  for (const s of live) {
    expectedBy[s.tenant] = (expectedBy[s.tenant] ?? 0) + 1
    ;(expectedByTenant[s.tenant] ??= []).push(s.handle)
    if (s.userId !== null) (expectedByUser[s.userId] ??= []).push(s.handle)
  }
  const users = new Set(planned.flatMap((s) => (s.userId === null ? [] : [s.userId])))
  const owner = new Map(planned.map((s) => [s.handle, s.userId]))

  const counts = await store.countSessions('tenant')
  t.equal(counts.total, live.length, `${what}: total count is exact (${live.length})`)
  t.strictSame({ ...counts.by }, expectedBy, `${what}: the count of every tenant is exact`)
  t.equal((await store.countSessions()).total, live.length, `${what}: countSessions() without a key agrees`)

  const problems: string[] = []
  const pagedByTenant: Record<string, string[]> = {}
  let pages = 0
  for (const tenant of TENANTS) {
    const handles: string[] = []
    let cursor: string | null = null
    for (let guard = 0; ; guard++) {
      if (guard > SESSIONS) {
        problems.push(`${tenant}: paging did not end`)
        break
      }
      const page = await store.listByIndex('tenant', tenant, { limit: PAGE_LIMIT, cursor })
      pages += 1
      if (page.sessions.length > PAGE_LIMIT) problems.push(`${tenant}: a page of ${page.sessions.length}`)
      if (page.nextCursor !== null && page.sessions.length < PAGE_LIMIT) problems.push(`${tenant}: a short page before the end`)
      for (const s of page.sessions) {
        const previous = handles[handles.length - 1]
        if (previous !== undefined && !(previous < s.handle)) problems.push(`${tenant}: ${s.handle} out of order or repeated`)
        if (owner.get(s.handle) !== s.userId) problems.push(`${tenant}: ${s.handle} lists the wrong user`)
        handles.push(s.handle)
      }
      if (page.nextCursor === null) break
      cursor = page.nextCursor
    }
    if (handles.length > 0) pagedByTenant[tenant] = handles
  }
  t.strictSame(problems, [], `${what}: ${pages} pages of at most ${PAGE_LIMIT}, in handle order, no repeats`)
  const expectedPaged: Record<string, string[]> = {}
  for (const [tenant, handles] of Object.entries(expectedByTenant)) expectedPaged[tenant] = handles.sort()
  t.strictSame(pagedByTenant, expectedPaged, `${what}: paging every tenant lists each live session exactly once`)

  const listedByUser: Record<string, string[]> = {}
  for (const userId of users) {
    const listed = await store.listUserSessions(userId)
    if (listed.length > 0) listedByUser[userId] = sortedHandles(listed)
  }
  const expectedUsers: Record<string, string[]> = {}
  for (const [userId, handles] of Object.entries(expectedByUser)) expectedUsers[userId] = handles.sort()
  t.strictSame(listedByUser, expectedUsers, `${what}: every user lists exactly their live sessions (${users.size} users)`)
}

const figures: string[] = []
const ms = (n: number): string => `${n.toFixed(3)} ms`

for (const backend of ['memory', 'redis'] as const) {
  t.test(`${backend}: 10,000 sessions over 50 tenants`, async (t) => {
    const clock = fakeClock()
    const { store } = makeStore(backend, clock)
    const planned = plan()

    let started = performance.now()
    await createAll(store, planned.slice(0, FIRST_STEP))
    const at1k = await timeCounts(store)
    await createAll(store, planned.slice(FIRST_STEP))
    const createdMs = performance.now() - started
    const at10k = await timeCounts(store)
    const line =
      `${backend}: one count call (median of 15): countSessions('tenant') ${ms(at1k.byTenant)} at 1,000 sessions, ` +
      `${ms(at10k.byTenant)} at 10,000 (x${(at10k.byTenant / at1k.byTenant).toFixed(2)}); ` +
      `countSessions() ${ms(at1k.total)} at 1,000, ${ms(at10k.total)} at 10,000 (x${(at10k.total / at1k.total).toFixed(2)})`
    // What countSessions('tenant') reads on Redis: one index set per (shard, value) that has sessions.
    const sets = (sessions: readonly Planned[]): number => new Set(sessions.map((s) => `${s.handle.charAt(0)} ${s.tenant}`)).size
    const note =
      backend === 'redis'
        ? ` (it reads one index set per shard and tenant with sessions: ${sets(planned.slice(0, FIRST_STEP))} at 1,000, ${sets(planned)} at 10,000, at most ${SHARDS.length * TENANTS.length})`
        : ''
    figures.push(`${line}${note}`)
    t.comment(`${line}${note}`)
    t.comment(`${backend}: created ${SESSIONS} sessions in ${(createdMs / 1000).toFixed(2)} s`)

    started = performance.now()
    await verify(t, store, planned, 'all live')

    clock.advance(SHORT_IDLE_MS)
    for (const s of planned) if (s.shortLived) s.ended = true
    await verify(t, store, planned, `after ${planned.filter((s) => s.shortLived).length} expired`)

    const doomed = planned.filter((s) => s.doomed)
    let destroyed = 0
    for (let i = 0; i < doomed.length; i += BATCH) {
      const results = await Promise.all(doomed.slice(i, i + BATCH).map((s) => store.destroy(s.handle)))
      destroyed += results.filter(Boolean).length
    }
    for (const s of doomed) s.ended = true
    t.equal(destroyed, doomed.length, `each of the ${doomed.length} destroyed sessions was live`)

    const revokedTenant = TENANTS[17] as string
    const tenantLive = planned.filter((s) => !s.ended && s.tenant === revokedTenant)
    t.equal(await store.revokeByIndex('tenant', revokedTenant), tenantLive.length, `revoking ${revokedTenant} ends its ${tenantLive.length} live sessions`)
    for (const s of tenantLive) s.ended = true

    const revokedUser = 'user-42'
    const userLive = planned.filter((s) => !s.ended && s.userId === revokedUser)
    t.equal(await store.revokeUserSessions(revokedUser, {}), userLive.length, `logging ${revokedUser} out everywhere ends their ${userLive.length} live sessions`)
    for (const s of userLive) s.ended = true

    await verify(t, store, planned, 'after destroying, revoking a tenant and a user')
    t.comment(`${backend}: the checks took ${((performance.now() - started) / 1000).toFixed(2)} s`)
  })
}

const DAY = 24 * 60 * MINUTE
const DAYS = 365

/** What Redis holds for one user and one tenant under `prefix`, expired or not, read key by key (no SCAN). */
async function heldInRedis(prefix: string, userId: string, tenant: string, handles: readonly string[]): Promise<Record<string, number>> {
  const pipeline = admin.pipeline()
  for (const shard of SHARDS) {
    const sp = shardPrefix(prefix, shard)
    pipeline.zcard(`${sp}u:${userId}`)
    pipeline.zcard(`${sp}i:tenant=${tenant}`)
    pipeline.smembers(`${sp}v:tenant`)
    pipeline.zrange(`${sp}all`, 0, -1)
  }
  for (const handle of handles) pipeline.exists(`${shardPrefix(prefix, handle.charAt(0))}s:${handle}`)
  const replies = (await pipeline.exec()) ?? []
  const value = (i: number): unknown => {
    const [err, reply] = replies[i] ?? [new Error('no reply'), null]
    if (err !== null) throw err
    return reply
  }
  const held = { userEntries: 0, indexEntries: 0, valueEntries: 0, allEntries: 0, allEntriesOfUser: 0, shardsWithUserEntries: 0, hashes: 0 }
  SHARDS.forEach((_, s) => {
    const inUser = Number(value(4 * s))
    held.userEntries += inUser
    if (inUser > 0) held.shardsWithUserEntries += 1
    held.indexEntries += Number(value(4 * s + 1))
    held.valueEntries += (value(4 * s + 2) as string[]).length
    const all = value(4 * s + 3) as string[]
    held.allEntries += all.length
    held.allEntriesOfUser += all.filter((entry) => (JSON.parse(entry) as unknown[])[1] === userId).length
  })
  handles.forEach((_, h) => {
    held.hashes += Number(value(4 * SHARDS.length + h))
  })
  return held
}

for (const backend of ['memory', 'redis'] as const) {
  t.test(`${backend}: a user who logs in every day for a year leaves a bounded index`, async (t) => {
    const clock = fakeClock()
    const { store, prefix } = makeStore(backend, clock)
    const handles: string[] = []
    const held = async (): Promise<Record<string, number>> => {
      if (backend === 'redis') return heldInRedis(prefix, 'daily', 'acme', handles)
      const stats = memoryStoreStats(store)
      return { sessions: stats.sessions, users: stats.users, indexEntries: stats.indexEntries, expiryBuckets: stats.expiryBuckets }
    }
    const checkpoints: string[] = []
    let worst = 0
    for (let day = 0; day < DAYS; day++) {
      if (day > 0) clock.advance(DAY)
      const handle = handleOf(newToken())
      handles.push(handle)
      // Each login outlives no day: the previous one has expired before this one.
      await store.create({ handle, userId: 'daily', data: { tenant: 'acme' }, idleTtlMs: 60 * MINUTE, absoluteTtlMs: 8 * 60 * MINUTE, userAgent: 'phone', ip: null })
      if ((day + 1) % 73 === 0) {
        const now = await held()
        const entries = backend === 'redis' ? (now.userEntries ?? 0) : (now.sessions ?? 0)
        worst = Math.max(worst, entries)
        checkpoints.push(`day ${day + 1}: ${JSON.stringify(now)}`)
      }
    }
    t.comment(`${backend}, logins only (nothing else touches the store):\n  ${checkpoints.join('\n  ')}`)
    if (backend === 'redis') {
      // A login prunes only its own shard (one Cluster slot); the other shards
      // are pruned by any login landing there, or by any listing or count.
      t.ok(worst <= SHARDS.length, `logins alone leave at most one stale entry per shard, not one per day (at most ${worst} of ${DAYS})`)
    } else {
      t.equal(worst, 1, 'memory holds only the live session after every login')
    }

    const listed = await store.listUserSessions('daily')
    t.strictSame(sortedHandles(listed), [handles[handles.length - 1]], 'the user lists only the live session')
    t.strictSame({ ...(await store.countSessions('tenant')).by }, { acme: 1 }, 'the tenant counts only the live session')
    const after = await held()
    t.comment(`${backend}, after one listing: ${JSON.stringify(after)}`)
    if (backend === 'redis') {
      t.strictSame(
        after,
        { userEntries: 1, indexEntries: 1, valueEntries: 1, allEntries: 1, allEntriesOfUser: 1, shardsWithUserEntries: 1, hashes: 1 },
        'after a listing Redis holds one session hash and one entry in each index, whatever the number of days'
      )
    } else {
      t.strictSame(after, { sessions: 1, users: 1, indexEntries: 1, expiryBuckets: 1 }, 'memory holds one session and one entry in each index')
    }
  })
}

t.test('figures', async (t) => {
  t.comment(`count-call times:\n  ${figures.join('\n  ')}`)
})
