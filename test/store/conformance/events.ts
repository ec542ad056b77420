/**
 * Lifecycle events (SPEC §2 "events"): created, rotated and exactly one ended
 * per session with its reason and actor, recorded with the change and only
 * then; the plain indexed values and never data; reads, writes and touches
 * record nothing; expiry announced by whatever ends the session (a sweep, a
 * count, a revocation that meets it) and once; paging and resuming that miss
 * and repeat nothing; `now`, malformed and expired cursors.
 */
import type { LifecycleEvent } from '../../../src/store/events.js'
import type { Store } from '../../../src/store/types.js'
import { newTokenInShard, shardOf } from '../../../src/tokens.js'
import { IDLE_MS } from '../../helpers/store.js'
import { EVENT_RETENTION_MS, newHandle, norm, rejectsCode, rotationTarget, type Cases } from './fixture.js'

/** Every event after `after` (null: all kept), read in pages of `limit`, and the cursor after the last. */
async function readAll(store: Store, after: string | null, limit = 1000): Promise<{ events: LifecycleEvent[]; cursor: string }> {
  const events: LifecycleEvent[] = []
  let cursor = after
  for (;;) {
    const page = await store.readEvents(cursor, limit)
    events.push(...page.events)
    cursor = page.nextCursor
    if (page.events.length === 0) return { events, cursor }
  }
}

/** What a case compares: the event without its id. */
const shapeOf = (event: LifecycleEvent): unknown => {
  const shape = norm(event) as Record<string, unknown>
  delete shape['id']
  return shape
}

/** A handle in another shard than `handle`, so that cases span shards. */
function otherShardHandle(handle: string): string {
  for (;;) {
    const other = newHandle()
    if (shardOf(other) !== shardOf(handle)) return other
  }
}

export const eventTests: Cases = (t, setup) => {
  t.test('create, rotate and destroy each record one event with the actor, the plain indexed values and no data', async (t) => {
    const { store, clock } = await setup({ events: true, indexedKeys: ['tenant', 'tags[]'] })
    const start = await store.readEvents('now', 10)
    t.strictSame(start.events, [], 'now: nothing yet')
    const handle = newHandle()
    const createdAt = clock.now()
    await store.create(
      { handle, userId: null, data: { tenant: 'acme', tags: ['a', 'b'], secret: 'do-not-leak' }, idleTtlMs: IDLE_MS, absoluteTtlMs: IDLE_MS * 2, userAgent: 'UA', ip: '203.0.113.1' },
      { actor: 'backend' }
    )
    const rotatedAt = clock.advance(1000)
    const next = rotationTarget(handle)
    await store.rotate(handle, next, { userId: 'user-1', actor: 'login' })
    const endedAt = clock.advance(1000)
    t.equal(await store.destroy(next, { actor: 'admin', reason: 'destroyed' }), true)
    const { events } = await readAll(store, start.nextCursor)
    t.strictSame(events.map(shapeOf), [
      { type: 'session.created', time: createdAt, handle, userId: null, index: { tenant: 'acme' }, actor: 'backend' },
      { type: 'session.rotated', time: rotatedAt, handle, userId: 'user-1', newHandle: next, index: { tenant: 'acme' }, actor: 'login' },
      { type: 'session.ended', time: endedAt, handle: next, userId: 'user-1', reason: 'destroyed', index: { tenant: 'acme' }, actor: 'admin' }
    ], 'three events, in order')
    t.equal(new Set(events.map((e) => e.id)).size, 3, 'each with its own id')
    t.notMatch(JSON.stringify(events), /do-not-leak|"tags/, 'no data and no collection values')
    t.strictSame((await readAll(store, null)).events, events, 'reading from the oldest kept gives the same')
  })

  t.test('reads, writes, touches, listings and counts record nothing', async (t) => {
    const { store, create, clock } = await setup({ events: true, indexedKeys: ['tenant'] })
    const session = await create({ userId: 'u', data: { tenant: 't1' } })
    const { cursor } = await readAll(store, null)
    clock.advance(1000)
    await store.get(session.handle, { touch: true })
    await store.get(session.handle, { touch: false })
    await store.getKey(session.handle, 'tenant', { touch: true })
    await store.setKey(session.handle, 'tenant', 't2', { touch: true })
    await store.deleteKey(session.handle, 'x', { touch: true })
    await store.patch(session.handle, { set: { a: 1 }, incr: { n: 2 } }, { touch: true })
    await store.listUserSessions('u')
    await store.listByIndex('tenant', 't2', { limit: 10, cursor: null })
    await store.countSessions('tenant')
    t.equal(await store.destroy(newHandle()), false, 'destroying an unknown handle')
    await rejectsCode(t, store.rotate(newHandle(), newHandle(), {}), 'session_not_found', 'rotating an unknown handle')
    t.strictSame((await readAll(store, cursor)).events, [], 'no event')
  })

  t.test('without events nothing is recorded and every read is empty', async (t) => {
    const { store, create } = await setup()
    const session = await create({ userId: 'u' })
    await store.rotate(session.handle, rotationTarget(session.handle), {})
    await store.revokeUserSessions('u', {})
    const page = await store.readEvents(null, 10)
    t.strictSame(page.events, [], 'nothing from the oldest')
    t.strictSame((await store.readEvents(page.nextCursor, 10)).events, [], 'nor after its cursor')
    t.strictSame((await store.readEvents('now', 10)).events, [], 'nor from now')
  })

  t.test('logout-all of 3 sessions: exactly 3 ended events, revoked by the admin key; the excepted one stays', async (t) => {
    const { store, create } = await setup({ events: true })
    const sessions = await Promise.all([1, 2, 3, 4].map(() => create({ userId: 'user-9' })))
    const kept = sessions[3]?.handle ?? ''
    const { cursor } = await readAll(store, null)
    t.equal(await store.revokeUserSessions('user-9', { exceptHandle: kept, actor: 'ops' }), 3)
    const { events } = await readAll(store, cursor)
    t.strictSame(
      events.map((e) => [e.type, e.reason, e.actor, e.userId]),
      [1, 2, 3].map(() => ['session.ended', 'revoked', 'ops', 'user-9']),
      'three revoked events by ops'
    )
    t.strictSame(new Set(events.map((e) => e.handle)), new Set(sessions.slice(0, 3).map((s) => s.handle)), 'one for each ended session')
  })

  t.test('a tenant revoked, a logout, an eviction: each with its reason and actor', async (t) => {
    const { store, create, clock } = await setup({ events: true, indexedKeys: ['tenant'], limits: { maxSessionsPerUser: 1 } })
    const tenant = await Promise.all([1, 2].map(() => create({ data: { tenant: 'acme' } })))
    const own = await create()
    const first = await create({ userId: 'solo' })
    const { cursor } = await readAll(store, null)
    t.equal(await store.revokeByIndex('tenant', 'acme', { actor: 'admin' }), 2)
    t.equal(await store.destroy(own.handle, { actor: 'self', reason: 'logout' }), true)
    clock.advance(1000)
    const second = await create({ userId: 'solo' })
    const { events } = await readAll(store, cursor)
    const ended = events.filter((e) => e.type === 'session.ended')
    t.strictSame(
      new Set(ended.map((e) => `${e.handle} ${e.reason ?? ''} ${e.actor}`)),
      new Set([
        ...tenant.map((s) => `${s.handle} revoked admin`),
        `${own.handle} logout self`,
        `${first.handle} evicted system`
      ]),
      'revoked by admin, logged out by itself, evicted by the system'
    )
    t.equal(ended.find((e) => e.reason === 'revoked')?.index['tenant'], 'acme', 'a revoked tenant session names its tenant')
    t.strictSame(events.filter((e) => e.type === 'session.created').map((e) => e.handle), [second.handle], 'and the login that evicted')
  })

  t.test('an expired session is announced once as expired by the system, whichever call ends it', async (t) => {
    const { store, create, clock } = await setup({ events: true })
    const counted = await create({ idleTtlMs: 1000, userId: 'x' })
    const revoked = await create({ idleTtlMs: 1000, userId: 'x' })
    const destroyed = await create({ idleTtlMs: 1000 })
    const rotated = await create({ idleTtlMs: 1000 })
    const read = await create({ idleTtlMs: 1000 })
    const live = await create({ userId: 'x' })
    const { cursor } = await readAll(store, null)
    clock.advance(2000)
    await rejectsCode(t, store.get(read.handle, { touch: true }), 'session_not_found', 'reading an expired session')
    t.equal(await store.destroy(destroyed.handle, { actor: 'admin' }), false, 'destroying an expired session ends none')
    await rejectsCode(t, store.rotate(rotated.handle, rotationTarget(rotated.handle), { actor: 'admin' }), 'session_not_found', 'rotating one')
    t.equal(await store.revokeUserSessions('x', { actor: 'admin' }), 1, 'a logout-all ends only the live one')
    t.equal((await store.countSessions()).total, 0, 'a count sees none')
    await store.countSessions()
    const { events } = await readAll(store, cursor)
    const expired = events.filter((e) => e.reason === 'expired')
    t.strictSame(
      expired.map((e) => e.handle).sort(),
      [counted, revoked, destroyed, rotated, read].map((s) => s.handle).sort(),
      'each expired session once'
    )
    t.ok(expired.every((e) => e.actor === 'system' && e.type === 'session.ended'), 'ended by the system')
    t.strictSame(events.filter((e) => e.reason !== 'expired').map((e) => [e.handle, e.reason, e.actor]), [[live.handle, 'revoked', 'admin']], 'the live one revoked')
  })

  t.test('the sweep announces each expiry once, says how many it ended, and trims events past the retention', async (t) => {
    const { store, create, clock } = await setup({ events: true })
    const old = await create({ idleTtlMs: 2 * EVENT_RETENTION_MS, absoluteTtlMs: 2 * EVENT_RETENTION_MS })
    clock.advance(EVENT_RETENTION_MS / 2)
    const session = await create({ idleTtlMs: 1000 })
    const { cursor } = await readAll(store, null)
    clock.advance(1500)
    t.strictSame(await store.sweepExpired(), { expired: 1, trimmed: 0 }, 'one expiry, nothing old enough to trim')
    const { events } = await readAll(store, cursor)
    t.strictSame(events.map((e) => [e.handle, e.reason, e.actor]), [[session.handle, 'expired', 'system']], 'announced by the sweep')
    t.strictSame(await store.sweepExpired(), { expired: 0, trimmed: 0 }, 'a second sweep finds nothing')
    t.strictSame((await readAll(store, cursor)).events.length, 1, 'and announces nothing again')
    clock.advance(EVENT_RETENTION_MS / 2)
    await store.destroy(old.handle)
    const { trimmed } = await store.sweepExpired()
    t.ok(trimmed <= 1, 'at most the one event older than the retention is trimmed')
    const kept = (await readAll(store, null)).events
    t.ok(kept.some((e) => e.handle === old.handle && e.type === 'session.ended'), 'what is within the retention is kept')
    t.equal(kept.length, 4 - trimmed, 'of the four events, exactly what was trimmed is gone')
  })

  t.test('a logout racing a logout-all racing an expiry ends each session exactly once', async (t) => {
    const { store, create, clock } = await setup({ events: true })
    const short = await Promise.all(Array.from({ length: 6 }, () => create({ userId: 'race', idleTtlMs: 1000 })))
    const long = await Promise.all(Array.from({ length: 6 }, () => create({ userId: 'race' })))
    const all = [...short, ...long]
    const { cursor } = await readAll(store, null)
    clock.advance(1500)
    await Promise.all([
      ...all.map((s) => store.destroy(s.handle, { actor: 'self', reason: 'logout' })),
      store.revokeUserSessions('race', { actor: 'admin' }),
      store.countSessions(),
      store.revokeUserSessions('race', { actor: 'admin' })
    ])
    await store.countSessions()
    const ended = (await readAll(store, cursor)).events.filter((e) => e.type === 'session.ended')
    t.equal(ended.length, all.length, 'one ended event per session')
    t.strictSame(new Set(ended.map((e) => e.handle)), new Set(all.map((s) => s.handle)), 'for every session')
    t.ok(ended.filter((e) => short.some((s) => s.handle === e.handle)).every((e) => e.reason === 'expired'), 'the expired ones as expired')
    t.ok(ended.filter((e) => long.some((s) => s.handle === e.handle)).every((e) => e.reason !== 'expired'), 'the live ones by a request')
  })

  // Events that arrive between pages may sort before ones already read (same
  // time, lower shard): the cursor promises each exactly once, not one order.
  t.test('paging with small limits while events keep arriving misses and repeats nothing; every cursor resumes the rest', async (t) => {
    const { store, create, clock } = await setup({ events: true })
    const first = await create()
    await create({ handle: otherShardHandle(first.handle) })
    const seen: LifecycleEvent[] = []
    const cursors: { cursor: string; seen: number }[] = []
    let cursor: string | null = null
    for (let round = 0; round < 12; round++) {
      // Events in several shards at one instant and later ones, between pages.
      await Promise.all([create(), create(), create()])
      if (round % 3 === 0) clock.advance(1)
      const page = await store.readEvents(cursor, 2)
      seen.push(...page.events)
      cursor = page.nextCursor
      cursors.push({ cursor, seen: seen.length })
    }
    const rest = await readAll(store, cursor, 3)
    seen.push(...rest.events)
    const everything = (await readAll(store, null)).events
    t.equal(everything.length, 2 + 12 * 3, 'every creation recorded')
    const ids = (events: readonly LifecycleEvent[]): string[] => events.map((e) => e.id).sort()
    t.strictSame(ids(seen), ids(everything), 'paging saw each event exactly once')
    for (const { cursor: from, seen: before } of cursors) {
      const resumed = (await readAll(store, from, 5)).events
      t.strictSame(ids(resumed), ids(seen.slice(before)), `resuming after ${before} events gives exactly the ones not seen yet`)
    }
    const whole = await store.readEvents(null, 1000)
    t.equal(whole.cursors.length, whole.events.length, 'a cursor after each event')
    for (const i of [0, 1, 7, whole.events.length - 2]) {
      const resumed = (await readAll(store, whole.cursors[i] ?? null, 7)).events.map((e) => e.id)
      t.strictSame(resumed, whole.events.slice(i + 1).map((e) => e.id), `the cursor after event ${i} resumes with the next`)
    }
    t.equal(whole.cursors.at(-1), whole.nextCursor, 'the last is the page\'s nextCursor')
    const times = everything.map((e) => e.time)
    t.strictSame(times, [...times].sort((a, b) => a - b), 'a read from the oldest is in time order')
  })

  t.test('a page whose events sit mostly in one shard is complete and in order', async (t) => {
    const { store, create, clock } = await setup({ events: true })
    const first = await create()
    const crowded: string[] = [first.handle]
    for (let i = 0; i < 29; i++) {
      clock.advance(1)
      crowded.push((await create({ handle: newTokenInShard(shardOf(first.handle)).handle })).handle)
    }
    clock.advance(1)
    const elsewhere = await create({ handle: otherShardHandle(first.handle) })
    const page = await store.readEvents(null, 100)
    t.strictSame(page.events.map((e) => e.handle), [...crowded, elsewhere.handle], 'all 31, in time order')
    const rest = await store.readEvents((await store.readEvents(null, 20)).nextCursor, 100)
    t.strictSame(rest.events.map((e) => e.handle), [...crowded.slice(20), elsewhere.handle], 'and a page of 20 ends where the next begins')
  })

  t.test('now reads only new events; a malformed cursor or limit is validation_failed; an old one events_expired', async (t) => {
    const { store, create, clock } = await setup({ events: true })
    await create()
    const now = await store.readEvents('now', 10)
    t.strictSame(now.events, [], 'now: not the earlier event')
    const later = await create()
    t.strictSame((await store.readEvents(now.nextCursor, 10)).events.map((e) => e.handle), [later.handle], 'then the new one')
    for (const bad of ['', 'x', 'AAAA', `${now.nextCursor}A`, 'not a cursor!']) {
      await rejectsCode(t, store.readEvents(bad, 10), 'validation_failed', `cursor ${JSON.stringify(bad)}`)
    }
    for (const limit of [0, -1, 1.5, 1001]) await rejectsCode(t, store.readEvents(null, limit), 'validation_failed', `limit ${limit}`)
    clock.advance(EVENT_RETENTION_MS + 1000)
    await rejectsCode(t, store.readEvents(now.nextCursor, 10), 'events_expired', 'a cursor older than the retention')
    t.strictSame((await store.readEvents('now', 10)).events, [], 'now still works')
  })
}
