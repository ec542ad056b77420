/**
 * Lifecycle: create and get return the full record, the absolute lifetime caps
 * the first expiry, destroy ends a session for good, a handle cannot be
 * created twice, an unknown handle is session_not_found everywhere, ping.
 */
import { ABSOLUTE_MS, IDLE_MS } from '../../helpers/store.js'
import { assertGone, newHandle, norm, rejectsCode, type Cases } from './fixture.js'

/** The 'lifecycle' cases. Create, read, destroy. */
export const lifecycleTests: Cases = (t, setup) => {
  t.test('create returns the full record and get reads the same', async (t) => {
    const { store, clock } = await setup()
    const now = clock.now()
    const handle = newHandle()
    const created = await store.create({
      handle,
      userId: 'user-1',
      data: { cart: [1, 2], theme: 'dark' },
      idleTtlMs: IDLE_MS,
      absoluteTtlMs: ABSOLUTE_MS,
      userAgent: 'Mozilla/5.0 (X11; Linux x86_64)',
      ip: '203.0.113.9'
    })
    const expected = {
      handle,
      userId: 'user-1',
      version: 1,
      authenticatedAt: now,
      createdAt: now,
      lastSeenAt: now,
      expiresAt: now + IDLE_MS,
      absoluteExpiresAt: now + ABSOLUTE_MS,
      userAgent: 'Mozilla/5.0 (X11; Linux x86_64)',
      ip: '203.0.113.9',
      data: { cart: [1, 2], theme: 'dark' }
    }
    t.strictSame(norm(created), expected, 'create resolves to the record')
    t.strictSame(norm(await store.get(handle, { touch: false })), expected, 'get(touch:false) reads it back')
    t.strictSame(norm(await store.get(handle, { touch: true })), expected, 'get(touch:true) at the same instant reads the same')
  })

  t.test('an anonymous session has authenticatedAt null and keeps null device fields', async (t) => {
    const { store, clock, create } = await setup()
    const now = clock.now()
    const rec = await create({ userId: null, userAgent: null, ip: null })
    t.strictSame(norm(await store.get(rec.handle, { touch: false })), {
      handle: rec.handle,
      userId: null,
      version: 1,
      authenticatedAt: null,
      createdAt: now,
      lastSeenAt: now,
      expiresAt: now + IDLE_MS,
      absoluteExpiresAt: now + ABSOLUTE_MS,
      userAgent: null,
      ip: null,
      data: {}
    })
  })

  t.test('expiresAt is capped by the absolute lifetime when idle is longer', async (t) => {
    const { store, clock, create } = await setup()
    const now = clock.now()
    const rec = await create({ idleTtlMs: 2 * 3_600_000, absoluteTtlMs: 3_600_000 })
    t.equal(rec.expiresAt, now + 3_600_000, 'expiresAt = min(now + idle, now + absolute)')
    t.equal(rec.absoluteExpiresAt, now + 3_600_000)
    t.equal((await store.get(rec.handle, { touch: false })).expiresAt, now + 3_600_000)
  })

  t.test('destroy ends a session; destroying again resolves false', async (t) => {
    const { store, create } = await setup()
    const rec = await create({ data: { a: 1 } })
    const other = await create({ data: { b: 2 } })
    t.equal(await store.destroy(rec.handle), true, 'first destroy resolves true')
    await assertGone(t, store, rec.handle, 'destroyed session')
    t.equal(await store.destroy(rec.handle), false, 'second destroy resolves false')
    t.equal(await store.destroy(newHandle()), false, 'destroying an unknown handle resolves false')
    t.strictSame(norm((await store.get(other.handle, { touch: false })).data), { b: 2 }, 'another session is untouched')
  })

  t.test('creating an existing handle is conflict and leaves the session as it was', async (t) => {
    const { store, create, snapshot, clock } = await setup()
    const rec = await create({ userId: 'u1', data: { a: 1 } })
    await store.setKey(rec.handle, 'b', 2, { touch: false })
    const before = await snapshot(rec.handle)
    clock.advance(1000)
    await rejectsCode(t, create({ handle: rec.handle, userId: 'u2', data: { c: 3 } }), 'conflict', 'create with a live handle')
    t.strictSame(await snapshot(rec.handle), before, 'the session is exactly as before')
    t.strictSame(await store.listUserSessions('u2'), [], 'the other user got nothing')
  })

  t.test('every operation on an unknown handle is session_not_found', async (t) => {
    const { store } = await setup({ indexedKeys: ['tenant'] })
    await assertGone(t, store, newHandle(), 'unknown handle')
  })

  t.test('ping resolves', async (t) => {
    const { store } = await setup()
    await t.resolves(store.ping())
  })
}
