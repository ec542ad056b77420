/**
 * Events on Redis beyond the shared suite: two instances on one Redis, with
 * the real clock and no traffic, announce an idle session's expiry once and
 * within EVENTS_EXPIRY_LAG; the streams live in the shards' hash tags; with
 * events off no stream key exists; a Redis restart with AOF keeps events and
 * cursors; webhook delivery state sits in the shards' slots and drops the
 * consumers that hold nothing.
 */
import t from 'tap'
import { Redis } from 'ioredis'
import { createRedisStore } from '../../src/store/index.js'
import type { LifecycleEvent } from '../../src/store/events.js'
import type { RedisStoreOptions } from '../../src/store/redis/index.js'
import { startSweeper, sweepIntervalMs } from '../../src/store/sweeper.js'
import type { Store } from '../../src/store/types.js'
import { SHARDS, newTokenInShard, shardOf } from '../../src/tokens.js'
import { fakeClock } from '../helpers/clock.js'
import { startRedisServer } from '../helpers/redis-server.js'
import { DEFAULT_LIMITS, sessionInput } from '../helpers/store.js'

const server = await startRedisServer({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] })
const stores: Store[] = []
const admin = new Redis(server.url)
t.teardown(async () => {
  await Promise.allSettled(stores.map((store) => store.close()))
  admin.disconnect()
  await server.stop()
})

const LAG_MS = 1000

function makeStore(keyPrefix: string, overrides: Partial<RedisStoreOptions> = {}): Store {
  const store = createRedisStore({
    limits: DEFAULT_LIMITS,
    indexedKeys: ['tenant'],
    touchIntervalMs: 0,
    connection: { mode: 'single', url: server.url },
    keyPrefix,
    commandTimeoutMs: 2000,
    waitReplicas: 0,
    events: { retentionMs: 3_600_000 },
    ...overrides
  })
  stores.push(store)
  return store
}

const keysOf = (prefix: string): Promise<string[]> => admin.keys(`${prefix}*`)

t.test('two instances and no traffic: an idle session\'s expiry is announced once, within the lag', async (t) => {
  const one = makeStore('two:')
  const other = makeStore('two:')
  // As the service runs it (src/http/plugins/store.ts): each instance sweeps on its own timer.
  const sweepers = [one, other].map((store) => startSweeper(() => store.sweepExpired(), sweepIntervalMs(LAG_MS / 1000)))
  t.teardown(() => sweepers.forEach((sweeper) => sweeper.stop()))
  const start = await one.readEvents('now', 10)
  const sessions = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? one : other).create(sessionInput({ idleTtlMs: 300 }))))
  const expiresAt = Math.max(...sessions.map((s) => s.expiresAt))
  let ended: LifecycleEvent[] = []
  // Polled well past the lag: the assertion is on what was announced and when it says it was, not on how long the test took.
  while (Date.now() < expiresAt + 10 * LAG_MS && ended.length < sessions.length) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    ended = [...(await one.readEvents(start.nextCursor, 1000)).events].filter((e) => e.type === 'session.ended')
  }
  await new Promise((resolve) => setTimeout(resolve, LAG_MS))
  ended = [...(await other.readEvents(start.nextCursor, 1000)).events].filter((e) => e.type === 'session.ended')
  t.equal(ended.length, sessions.length, 'one ended event per session, though both instances sweep')
  t.strictSame(new Set(ended.map((e) => e.handle)), new Set(sessions.map((s) => s.handle)), 'for each session')
  t.ok(ended.every((e) => e.reason === 'expired' && e.actor === 'system'), 'expired, by the system')
  const late = ended.filter((e) => e.time > (sessions.find((s) => s.handle === e.handle)?.expiresAt ?? 0) + LAG_MS)
  t.strictSame(late, [], 'each announced within the lag of its expiry')
})

t.test('streams carry the shard hash tag; events off: no stream key at all', async (t) => {
  const on = makeStore('on:')
  const off = makeStore('off:', { events: undefined })
  for (const store of [on, off]) {
    const session = await store.create(sessionInput({ userId: 'u', data: { tenant: 'acme' } }))
    await store.rotate(session.handle, newTokenInShard(shardOf(session.handle)).handle, {})
    await store.revokeUserSessions('u', {})
  }
  const streams = (await keysOf('on:')).filter((key) => key.endsWith(':events'))
  t.equal(streams.length, 1, 'one stream, in the session\'s shard')
  t.match(streams[0], /^on:\{.\}:events$/, 'named by its shard hash tag')
  const offKeys = await keysOf('off:')
  t.strictSame(offKeys.filter((key) => !key.includes(':r:')), [], 'without events only the rotation tombstone is left')
  t.strictSame(await Promise.all(offKeys.map((key) => admin.type(key))), ['string'], 'no stream')
  t.strictSame((await off.readEvents(null, 10)).events, [], 'and nothing is read')
})

t.test('the sweep trims a shard\'s events past the retention without blocking: whole stream nodes, the rest kept and readable', async (t) => {
  const clock = fakeClock()
  const store = makeStore('trim:', { clock: clock.now, events: { retentionMs: 60_000 } })
  const shard = SHARDS[0] ?? ''
  for (let i = 0; i < 250; i++) await store.create(sessionInput({ handle: newTokenInShard(shard).handle }))
  const stream = `trim:{${shard}}:events`
  t.equal(await admin.xlen(stream), 250, 'one created event per session')
  t.strictSame(await store.sweepExpired(), { expired: 0, trimmed: 0 }, 'nothing older than the retention yet')
  clock.advance(61_000)
  const { trimmed } = await store.sweepExpired()
  t.ok(trimmed > 0, `the sweep trimmed ${trimmed} of the 250`)
  t.equal(await admin.xlen(stream), 250 - trimmed, 'exactly those are gone from the stream')
  t.equal((await store.readEvents(null, 1000)).events.length, 250 - trimmed, 'and the rest is still read from the oldest kept')
})

t.test('a Redis restart with AOF keeps the events and their cursors', async (t) => {
  const store = makeStore('aof:')
  const first = await store.create(sessionInput())
  const page = await store.readEvents(null, 10)
  t.strictSame(page.events.map((e) => e.handle), [first.handle])
  const second = await store.create(sessionInput())
  await server.kill()
  await server.start()
  let after: readonly LifecycleEvent[] = []
  for (let tries = 0; tries < 50; tries++) {
    try {
      after = (await store.readEvents(page.nextCursor, 10)).events
      break
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  t.strictSame(after.map((e) => e.handle), [second.handle], 'the cursor from before the restart resumes after it')
  t.strictSame((await store.readEvents(null, 10)).events.map((e) => e.handle), [first.handle, second.handle], 'every event kept')
})

/** The names of the webhook delivery group's consumers on a stream. */
async function consumersOf(stream: string): Promise<string[]> {
  const consumers = (await admin.call('XINFO', 'CONSUMERS', stream, 'webhooks')) as string[][]
  return consumers.map((fields) => fields[fields.indexOf('name') + 1] ?? '').sort()
}

t.test('webhook delivery state: a group and a lease key in every shard\'s slot, a registry of live consumers; consumers left with nothing pending are dropped', async (t) => {
  const store = makeStore('wh:')
  const deliveries = store.deliveries
  if (deliveries === null) throw new Error('with events there is delivery state')
  await deliveries.prepare()
  const streams = (await keysOf('wh:')).filter((key) => key.endsWith(':events'))
  t.strictSame(streams.sort(), SHARDS.map((shard) => `wh:{${shard}}:events`).sort(), 'prepare made every shard\'s stream')
  t.strictSame(await consumersOf('wh:{A}:events'), [], 'with its group, no consumer yet')
  t.strictSame((await deliveries.lease('one', 60_000)).length, SHARDS.length)
  const leases = (await keysOf('wh:')).filter((key) => key.endsWith(':webhook'))
  t.strictSame(leases.sort(), SHARDS.map((shard) => `wh:{${shard}}:webhook`).sort(), 'a lease key per shard, in its slot')
  t.equal(await admin.get('wh:{A}:webhook'), 'one', 'naming its holder')
  const ttl = await admin.pttl('wh:{A}:webhook')
  t.ok(ttl > 0 && ttl <= 60_000, `expiring with the lease (${ttl} ms left)`)
  const [member, until] = await admin.zrange('wh:webhook:consumers', 0, -1, 'WITHSCORES')
  t.equal(member, 'one', 'the consumer registered live')
  const [redisSeconds] = await admin.time()
  const liveFor = Number(until) - Number(redisSeconds) * 1000
  t.ok(liveFor > 58_000 && liveFor <= 61_000, `until the lease ends on Redis's clock (${liveFor} ms)`)
  const registryTtl = await admin.pttl('wh:webhook:consumers')
  t.ok(registryTtl > 0 && registryTtl <= 60_000, `the registry expiring with its last member (${registryTtl} ms left)`)

  const shard = SHARDS.indexOf('A')
  for (let i = 0; i < 2; i++) await store.create(sessionInput({ handle: newTokenInShard('A').handle }))
  t.equal((await deliveries.handOut(shard, 'one', 10)).length, 2)
  t.equal((await deliveries.unacknowledged(shard, 'two', null, 1)).length, 1, 'two re-takes one of them')
  t.strictSame(await consumersOf('wh:{A}:events'), ['one', 'two'], 'one still holds the other')
  t.equal((await deliveries.unacknowledged(shard, 'two', null, 10)).length, 2, 'two re-takes both')
  t.strictSame(await consumersOf('wh:{A}:events'), ['two'], 'one, holding nothing, is dropped')
  await deliveries.release('one')
  t.strictSame((await keysOf('wh:')).filter((key) => key.endsWith(':webhook')), [], 'release deletes the lease keys')
  t.equal(await admin.exists('wh:webhook:consumers'), 0, 'and takes its consumer off the registry, the last, so the key goes')
})
