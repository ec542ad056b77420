/**
 * What only the memory backend has: its sweep, its timer, its internal
 * bookkeeping and its defences against shared mutable state. The behaviour
 * both backends share is in conformance.ts.
 */
import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { AppError } from '../../src/errors.js'
import { checkedStore } from '../../src/store/checked.js'
import { createMemoryBackend, type MemoryBackend, type MemoryStoreOptions, type MemoryStoreStats } from '../../src/store/memory/index.js'
import { ROTATION_GRACE_MS, type CreateSessionInput, type Page, type SessionData, type Store } from '../../src/store/types.js'
import { handleOf, newToken, newTokenInShard, shardOf } from '../../src/tokens.js'
import { DEFAULT_LIMITS } from '../helpers/store.js'

const START = 1_700_000_000_000

const backends = new Map<Store, MemoryBackend>()
const memoryStoreStats = (store: Store): MemoryStoreStats => (backends.get(store) as MemoryBackend).stats()

function setup(options: Partial<MemoryStoreOptions> = {}): { store: Store; advance: (ms: number) => void } {
  let now = START
  const storeOptions: MemoryStoreOptions = {
    limits: DEFAULT_LIMITS,
    indexedKeys: ['tenant'],
    touchIntervalMs: 0,
    clock: () => now,
    sweepIntervalMs: 60_000,
    ...options
  }
  const backend = createMemoryBackend(storeOptions)
  const store = checkedStore(backend, storeOptions)
  backends.set(store, backend)
  return { store, advance: (ms) => { now += ms } }
}

const newHandle = (): string => handleOf(newToken())

function input(data: SessionData, extra: Partial<CreateSessionInput> = {}): CreateSessionInput {
  return { handle: newHandle(), userId: null, data, idleTtlMs: 1_000, absoluteTtlMs: 60_000, userAgent: null, ip: null, ...extra }
}

const timeouts = (): number => process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length

t.test('the sweep removes expired sessions and every index entry of theirs without any call', async (t) => {
  const { store, advance } = setup({ sweepIntervalMs: 5 })
  t.teardown(() => store.close())
  for (let i = 0; i < 50; i += 1) await store.create(input({ tenant: `t${i % 3}` }, { userId: `u${i % 7}` }))
  await store.create(input({ tenant: 't0' }, { idleTtlMs: 10_000 }))
  t.match(memoryStoreStats(store), { sessions: 51, users: 7, indexEntries: 51 })
  advance(2_000)
  await sleep(50)
  t.same(memoryStoreStats(store), { sessions: 1, tombstones: 0, expiryBuckets: 1, users: 0, indexEntries: 1 })
})

t.test('any call drops the sessions whose expiry second has passed, without the sweep', async (t) => {
  const { store, advance } = setup()
  t.teardown(() => store.close())
  for (let i = 0; i < 10; i += 1) await store.create(input({ tenant: 'a' }))
  advance(2_000)
  t.equal(memoryStoreStats(store).sessions, 10, 'nothing is removed until the store is used')
  await store.ping()
  t.match(memoryStoreStats(store), { sessions: 0, expiryBuckets: 0, indexEntries: 0 })
})

t.test('counts and listings exclude sessions expired within the current second', async (t) => {
  const { store, advance } = setup()
  t.teardown(() => store.close())
  const short = await store.create(input({ tenant: 'a' }, { idleTtlMs: 300 }))
  const long = await store.create(input({ tenant: 'a' }, { idleTtlMs: 900 }))
  t.equal(Math.floor(short.expiresAt / 1_000), Math.floor(long.expiresAt / 1_000), 'both share an expiry second')
  advance(300)
  await store.ping()
  t.equal(memoryStoreStats(store).sessions, 2, 'the shared second has not passed yet')
  t.same((await store.listByIndex('tenant', 'a', { limit: 10, cursor: null })).sessions.map((s) => s.handle), [long.handle])
  t.same(await store.countSessions('tenant'), { total: 1, by: { a: 1 }, without: 0 })
  t.equal(memoryStoreStats(store).sessions, 1, 'counting settles the current second')
})

t.test('a refresh moves a session to its new expiry second', async (t) => {
  const { store, advance } = setup()
  t.teardown(() => store.close())
  const { handle } = await store.create(input({}))
  advance(800)
  await store.get(handle, { touch: true })
  advance(800)
  await store.ping()
  t.match(memoryStoreStats(store), { sessions: 1, expiryBuckets: 1 }, 'the old second is gone, the session is not')
  t.equal((await store.get(handle, { touch: false })).handle, handle)
})

t.test('a refresh within its expiry second leaves the session in that second\'s bucket', async (t) => {
  const { store, advance } = setup()
  t.teardown(() => store.close())
  const { handle, expiresAt } = await store.create(input({}))
  advance(100)
  const refreshed = await store.get(handle, { touch: true })
  t.equal(refreshed.expiresAt, expiresAt + 100, 'expiry slid')
  t.equal(Math.floor(refreshed.expiresAt / 1_000), Math.floor(expiresAt / 1_000), 'within the same second')
  advance(1_000)
  await store.ping()
  t.equal(memoryStoreStats(store).sessions, 1, 'expired, but held until its second has passed')
  t.equal((await store.countSessions()).total, 0, 'counting finds it in the bucket of the current second')
  t.match(memoryStoreStats(store), { sessions: 0, expiryBuckets: 1 })
})

t.test('tombstones of rotated handles are dropped after the grace period', async (t) => {
  const { store, advance } = setup()
  t.teardown(() => store.close())
  const { handle } = await store.create(input({}, { idleTtlMs: 3_600_000, absoluteTtlMs: 3_600_000 }))
  await store.rotate(handle, newTokenInShard(shardOf(handle)).handle, {})
  t.equal(memoryStoreStats(store).tombstones, 1)
  advance(ROTATION_GRACE_MS)
  await store.ping()
  t.equal(memoryStoreStats(store).tombstones, 0)
})

t.test('an index value with thousands of sessions keeps them in order across its internal chunks', async (t) => {
  const { store, advance } = setup({ indexedKeys: ['tenant'] })
  t.teardown(() => store.close())
  const handles: string[] = []
  for (let i = 0; i < 3_000; i += 1) handles.push((await store.create(input({ tenant: 'a' }))).handle)
  const ended = new Set(handles.filter((_, i) => i % 3 === 0))
  for (const handle of ended) await store.destroy(handle)
  const listed: string[] = []
  let cursor: string | null = null
  do {
    const page: Page = await store.listByIndex('tenant', 'a', { limit: 250, cursor })
    listed.push(...page.sessions.map((s) => s.handle))
    cursor = page.nextCursor
  } while (cursor !== null)
  t.same(listed, handles.filter((h) => !ended.has(h)).sort())
  t.same(await store.countSessions('tenant'), { total: 2_000, by: { a: 2_000 }, without: 0 })
  advance(2_000)
  await store.ping()
  t.match(memoryStoreStats(store), { sessions: 0, indexEntries: 0 })
})

t.test('the sweep timer never holds the process open and close() clears it', async (t) => {
  const before = timeouts()
  const { store, advance } = setup({ sweepIntervalMs: 5 })
  t.equal(timeouts(), before, 'the timer is unref()ed')
  await store.create(input({}))
  await store.close()
  advance(5_000)
  await sleep(50)
  t.equal(memoryStoreStats(store).sessions, 1, 'no sweep ran after close')
  await t.rejects(store.ping(), new AppError('store_unavailable', 'the memory store is closed'))
  await t.rejects(store.create(input({})), { code: 'store_unavailable' })
})

t.test('returned objects and inputs share no state with the store', async (t) => {
  const { store } = setup()
  t.teardown(() => store.close())
  const data = { tenant: 'a', nested: { list: [1, 2] } } as SessionData
  const created = await store.create(input(data, { userId: 'u' }))
  ;(data.nested as { list: number[] }).list.push(3)
  t.throws(() => (created.data.nested as { list: number[] }).list.push(4), TypeError, 'returned data is frozen all the way down')
  t.throws(() => { created.data.extra = true }, TypeError, 'no key can be added to returned data')
  Object.assign(created, { version: 99, userId: 'mallory' })
  const read = await store.get(created.handle, { touch: false })
  t.same(read.data, { tenant: 'a', nested: { list: [1, 2] } })
  t.match(read, { version: 1, userId: 'u' })

  const key = await store.getKey(created.handle, 'nested', { touch: false })
  t.throws(() => { (key.value as { list: number[] }).list.length = 0 }, TypeError, 'a value read alone is frozen too')
  const [meta] = await store.listUserSessions('u')
  Object.assign(meta ?? {}, { lastSeenAt: 0 })
  const counts = await store.countSessions('tenant')
  Object.assign(counts.by, { a: 5 })
  t.same((await store.get(created.handle, { touch: false })).data, { tenant: 'a', nested: { list: [1, 2] } })
  t.equal((await store.listUserSessions('u'))[0]?.lastSeenAt, START)
  t.same((await store.countSessions('tenant')).by, { a: 1 })
})

t.test('__proto__, constructor and prototype are ordinary keys, values, users and index values', async (t) => {
  const { store } = setup({ indexedKeys: ['tenant', '__proto__'] })
  t.teardown(() => store.close())
  const data = JSON.parse('{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"prototype":1,"tenant":"__proto__"}') as SessionData
  const { handle } = await store.create(input(data, { userId: '__proto__' }))
  await store.setKey(handle, 'constructor', { polluted: true }, { touch: false })
  await store.patch(handle, { set: JSON.parse('{"__proto__":"x"}') as SessionData, incr: { prototype: 1 } }, { touch: false })

  const record = await store.get(handle, { touch: false })
  t.equal(Object.getPrototypeOf(record.data), null, 'data is a null-prototype map')
  t.same(Object.keys(record.data).sort(), ['__proto__', 'constructor', 'prototype', 'tenant'])
  t.equal(record.data.__proto__, 'x')
  t.same(record.data.constructor, { polluted: true })
  t.equal(record.data.prototype, 2)
  t.same((await store.getKey(handle, '__proto__', { touch: false })).value, 'x')

  t.same((await store.listUserSessions('__proto__')).map((s) => s.handle), [handle])
  t.same((await store.listByIndex('tenant', '__proto__', { limit: 10, cursor: null })).sessions.map((s) => s.handle), [handle])
  t.same((await store.listByIndex('__proto__', 'x', { limit: 10, cursor: null })).sessions.map((s) => s.handle), [handle])
  const counts = await store.countSessions('tenant')
  t.equal(Object.getPrototypeOf(counts.by), null)
  t.same(Object.entries(counts.by), [['__proto__', 1]])
  await t.rejects(store.countSessions('constructor'), { code: 'validation_failed' })
  t.equal(await store.revokeUserSessions('__proto__', {}), 1)

  const plain: Record<string, unknown> = {}
  t.equal(plain.polluted, undefined, 'Object.prototype is untouched')
  t.equal(Object.getPrototypeOf(plain), Object.prototype)
})
