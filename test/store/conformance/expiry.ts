/**
 * Expiry: the idle TTL, sliding on touching use (at most once per
 * touchIntervalMs for reads, on every touching write), capped by the absolute
 * lifetime; an expired session is gone from every listing and never returns.
 */
import { IDLE_MS } from '../../helpers/store.js'
import { assertGone, norm, notFound, type Cases } from './fixture.js'

/** The 'expiry' cases. Idle and absolute expiry, touch and touchIntervalMs. */
export const expiryTests: Cases = (t, setup) => {
  t.test('an idle session ends after the idle TTL', async (t) => {
    const { store, create, clock } = await setup({ indexedKeys: ['tenant'] })
    const rec = await create({ userId: 'u1', data: { tenant: 'acme' } })
    clock.advance(IDLE_MS - 1)
    t.equal((await store.get(rec.handle, { touch: false })).handle, rec.handle, 'live 1 ms before expiresAt')
    clock.advance(1)
    await notFound(t, store.get(rec.handle, { touch: false }), 'gone at expiresAt')
    t.strictSame(await store.listUserSessions('u1'), [], 'not listed for its user')
    t.strictSame(norm(await store.countSessions('tenant')), { total: 0, by: {}, without: 0 }, 'not counted')
    t.strictSame(norm(await store.listByIndex('tenant', 'acme', { limit: 10, cursor: null })), { sessions: [], nextCursor: null }, 'not listed by index')
  })

  t.test('a touching use slides expiry and lastSeenAt, not the absolute expiry or version', async (t) => {
    const { store, create, clock, snapshot } = await setup()
    const rec = await create({ data: { a: 1 } })
    const t1 = clock.advance(300_000)
    await store.get(rec.handle, { touch: true })
    t.strictSame(await snapshot(rec.handle), norm({ ...rec, lastSeenAt: t1, expiresAt: t1 + IDLE_MS }), 'get(touch:true) slid it')
    const t2 = clock.advance(300_000)
    await store.getKey(rec.handle, 'a', { touch: true })
    t.strictSame(await snapshot(rec.handle), norm({ ...rec, lastSeenAt: t2, expiresAt: t2 + IDLE_MS }), 'getKey(touch:true) slid it')
    clock.advance(IDLE_MS - 1)
    t.equal((await store.get(rec.handle, { touch: false })).handle, rec.handle, 'live past the original expiry')
    clock.advance(1)
    await notFound(t, store.get(rec.handle, { touch: false }), 'gone one idle TTL after the last use')
  })

  t.test('touch:false never moves expiry or lastSeenAt', async (t) => {
    const { store, create, clock, snapshot } = await setup()
    const rec = await create({ data: { a: 1, b: 2 } })
    clock.advance(300_000)
    await store.get(rec.handle, { touch: false })
    await store.getKey(rec.handle, 'a', { touch: false })
    await store.setKey(rec.handle, 'c', 3, { touch: false })
    await store.deleteKey(rec.handle, 'b', { touch: false })
    await store.patch(rec.handle, { incr: { n: 1 } }, { touch: false })
    t.strictSame(await snapshot(rec.handle), norm({ ...rec, version: 4, data: { a: 1, c: 3, n: 1 } }), 'only data and version changed')
    clock.advance(IDLE_MS - 300_000)
    await notFound(t, store.get(rec.handle, { touch: false }), 'gone at the original expiresAt')
  })

  t.test('expiry never passes absoluteExpiresAt however often the session is used', async (t) => {
    const { store, create, clock } = await setup()
    const rec = await create({ idleTtlMs: 600_000, absoluteTtlMs: 1_000_000 })
    for (let i = 0; i < 4; i++) {
      const now = clock.advance(200_000)
      await store.get(rec.handle, { touch: true })
      await store.setKey(rec.handle, 'n', i, { touch: true })
      const read = await store.get(rec.handle, { touch: false })
      t.equal(read.expiresAt, Math.min(now + 600_000, rec.absoluteExpiresAt), `use ${i + 1}: expiresAt = min(now + idle, absoluteExpiresAt)`)
      t.equal(read.absoluteExpiresAt, rec.absoluteExpiresAt, `use ${i + 1}: absoluteExpiresAt never moves`)
    }
    clock.advance(199_999)
    t.equal((await store.get(rec.handle, { touch: false })).expiresAt, rec.absoluteExpiresAt, 'live 1 ms before the absolute expiry')
    clock.advance(1)
    await notFound(t, store.get(rec.handle, { touch: true }), 'gone at the absolute expiry, even for a touching read')
  })

  t.test('touchIntervalMs: reads inside the interval do not refresh; after it they do', async (t) => {
    const { store, create, clock, snapshot } = await setup({ touchIntervalMs: 60_000 })
    const rec = await create({ data: { a: 1 } })
    clock.advance(59_999)
    await store.get(rec.handle, { touch: true })
    await store.getKey(rec.handle, 'a', { touch: true })
    t.strictSame(await snapshot(rec.handle), norm(rec), 'reads within the interval changed nothing')
    const t1 = clock.advance(1)
    await store.get(rec.handle, { touch: true })
    t.strictSame(await snapshot(rec.handle), norm({ ...rec, lastSeenAt: t1, expiresAt: t1 + IDLE_MS }), 'a read once the interval has passed refreshed it')
    clock.advance(30_000)
    await store.getKey(rec.handle, 'a', { touch: true })
    t.strictSame(await snapshot(rec.handle), norm({ ...rec, lastSeenAt: t1, expiresAt: t1 + IDLE_MS }), 'the interval counts from the last refresh')
    const t2 = clock.advance(30_000)
    await store.getKey(rec.handle, 'a', { touch: true })
    t.strictSame(await snapshot(rec.handle), norm({ ...rec, lastSeenAt: t2, expiresAt: t2 + IDLE_MS }), 'getKey refreshes once it is due')
  })

  t.test('writes with touch always refresh, even inside touchIntervalMs', async (t) => {
    const { store, create, clock } = await setup({ touchIntervalMs: 60_000 })
    const rec = await create({ data: { a: 1 } })
    const check = async (label: string, now: number): Promise<void> => {
      const read = await store.get(rec.handle, { touch: false })
      t.equal(read.lastSeenAt, now, `${label}: lastSeenAt = now`)
      t.equal(read.expiresAt, now + IDLE_MS, `${label}: expiresAt = now + idle`)
    }
    let now = clock.advance(10_000)
    await store.setKey(rec.handle, 'b', 1, { touch: true })
    await check('setKey', now)
    now = clock.advance(10_000)
    await store.patch(rec.handle, { incr: { n: 1 } }, { touch: true })
    await check('patch', now)
    now = clock.advance(10_000)
    await store.deleteKey(rec.handle, 'b', { touch: true })
    await check('deleteKey (of an existing key)', now)
  })

  t.test('an expired session never comes back', async (t) => {
    const { store, create, clock } = await setup({ indexedKeys: ['tenant'] })
    const rec = await create({ userId: 'u1', data: { tenant: 'acme', a: 1 } })
    clock.advance(IDLE_MS)
    await assertGone(t, store, rec.handle, 'expired session')
    t.strictSame(await store.listUserSessions('u1'), [], 'not listed for its user')
    t.strictSame(norm(await store.countSessions('tenant')), { total: 0, by: {}, without: 0 }, 'not counted')
    t.strictSame(norm(await store.listByIndex('tenant', 'acme', { limit: 10, cursor: null })), { sessions: [], nextCursor: null }, 'not listed by index')
    t.equal(await store.revokeUserSessions('u1', {}), 0, 'revoking its user ends nothing')
  })
}
