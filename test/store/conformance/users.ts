/**
 * Users: the user index (listUserSessions), revokeUserSessions and
 * maxSessionsPerUser, through create, rotation, expiry and races.
 */
import type { SessionRecord } from '../../../src/store/types.js'
import { metaOf, norm, notFound, rotationTarget, type Cases, type Fixture, type Setup } from './fixture.js'

/** The 'user index' cases. listUserSessions: a user's live sessions. */
export const userIndexTests: Cases = (t, setup) => {
  t.test('listUserSessions lists live sessions, most recently seen first, without data', async (t) => {
    const { store, create, clock } = await setup()
    const a = await create({ userId: 'u1', data: { secret: 1 }, userAgent: 'A', ip: '192.0.2.1' })
    clock.advance(1000)
    const b = await create({ userId: 'u1', userAgent: 'B' })
    clock.advance(1000)
    const c = await create({ userId: 'u1', userAgent: 'C' })
    await create({ userId: 'u2' })
    await create()
    clock.advance(1000)
    await store.get(a.handle, { touch: true })
    const listed = await store.listUserSessions('u1')
    t.strictSame(listed.map((s) => s.handle), [a.handle, c.handle, b.handle], 'ordered by lastSeenAt, newest first')
    for (const s of listed) t.notOk('data' in s, `${s.userAgent ?? '?'}: data left out`)
    t.strictSame(norm(listed[0]), metaOf(await store.get(a.handle, { touch: false })), 'entries carry the full metadata')
  })

  t.test('ended sessions are never listed', async (t) => {
    const { store, create, clock } = await setup()
    const expiring = await create({ userId: 'u1', idleTtlMs: 100_000 })
    const destroyed = await create({ userId: 'u1' })
    const rotated = await create({ userId: 'u1' })
    const movedAway = await create({ userId: 'u1' })
    const kept = await create({ userId: 'u1' })
    await store.destroy(destroyed.handle)
    const target = rotationTarget(rotated.handle)
    await store.rotate(rotated.handle, target, {})
    await store.rotate(movedAway.handle, rotationTarget(movedAway.handle), { userId: 'u2' })
    clock.advance(100_000)
    const handles = (await store.listUserSessions('u1')).map((s) => s.handle).sort()
    t.strictSame(handles, [kept.handle, target].sort(), 'only the live sessions (the rotated one under its new handle)')
    t.notOk(handles.includes(expiring.handle), 'not the expired one')
  })

  t.test('many expired sessions leave nothing behind', async (t) => {
    const { store, create, clock } = await setup({ indexedKeys: ['tenant'] })
    for (let i = 0; i < 200; i += 20) {
      await Promise.all(Array.from({ length: 20 }, () => create({ userId: 'many', data: { tenant: 'acme' }, idleTtlMs: 60_000 })))
    }
    t.equal((await store.listUserSessions('many')).length, 200, '200 live sessions')
    clock.advance(60_000)
    t.strictSame(await store.listUserSessions('many'), [], 'none listed once they expired')
    t.strictSame(norm(await store.countSessions('tenant')), { total: 0, by: {}, without: 0 }, 'none counted')
    t.strictSame(norm(await store.listByIndex('tenant', 'acme', { limit: 50, cursor: null })), { sessions: [], nextCursor: null }, 'none listed by index')
    t.equal(await store.revokeUserSessions('many', {}), 0, 'none left to revoke')
    const fresh = await create({ userId: 'many', data: { tenant: 'acme' } })
    t.strictSame((await store.listUserSessions('many')).map((s) => s.handle), [fresh.handle], 'a new session is listed alone')
    t.strictSame(norm(await store.countSessions('tenant')), { total: 1, by: { acme: 1 }, without: 0 }, 'and counted alone')
  })

  t.test('an unknown user has no sessions', async (t) => {
    const { store } = await setup()
    t.strictSame(await store.listUserSessions('nobody'), [])
    t.equal(await store.revokeUserSessions('nobody', {}), 0)
  })
}

/** The 'revokeUserSessions' cases. Ending all of a user's sessions, but one. */
export const revokeUserSessionsTests: Cases = (t, setup) => {
  t.test('ends every live session of the user except exceptHandle and counts them', async (t) => {
    const { store, create, clock } = await setup()
    const keep = await create({ userId: 'u1' })
    const s2 = await create({ userId: 'u1' })
    const s3 = await create({ userId: 'u1' })
    const expired = await create({ userId: 'u1', idleTtlMs: 60_000 })
    const other = await create({ userId: 'u2', data: { a: 1 } })
    const anon = await create()
    clock.advance(60_000)
    t.equal(await store.revokeUserSessions('u1', { exceptHandle: keep.handle }), 2, 'two live sessions ended (the expired one is not counted)')
    await notFound(t, store.get(s2.handle, { touch: false }), 's2 ended')
    await notFound(t, store.get(s3.handle, { touch: false }), 's3 ended')
    await notFound(t, store.get(expired.handle, { touch: false }), 'the expired one stays gone')
    t.equal((await store.get(keep.handle, { touch: false })).handle, keep.handle, 'exceptHandle kept')
    t.strictSame((await store.listUserSessions('u1')).map((s) => s.handle), [keep.handle], 'only exceptHandle listed')
    t.strictSame(norm((await store.get(other.handle, { touch: false })).data), { a: 1 }, 'another user untouched')
    t.equal((await store.get(anon.handle, { touch: false })).handle, anon.handle, 'anonymous session untouched')
    t.equal(await store.revokeUserSessions('u1', {}), 1, 'without exceptHandle the last one goes too')
    t.strictSame(await store.listUserSessions('u1'), [])
    t.equal((await store.countSessions()).total, 2, 'u2 and the anonymous session remain')
  })

  t.test('a session created after it resolved is untouched', async (t) => {
    const { store, create } = await setup()
    await create({ userId: 'u1' })
    t.equal(await store.revokeUserSessions('u1', {}), 1)
    const later = await create({ userId: 'u1', data: { a: 1 } })
    t.strictSame(norm((await store.get(later.handle, { touch: false })).data), { a: 1 }, 'live')
    t.strictSame((await store.listUserSessions('u1')).map((s) => s.handle), [later.handle], 'listed')
  })

  t.test('a rotation before or racing it does not escape it', async (t) => {
    const { store, create } = await setup()
    const rec = await create({ userId: 'u1' })
    const target = rotationTarget(rec.handle)
    await store.rotate(rec.handle, target, {})
    t.equal(await store.revokeUserSessions('u1', {}), 1, 'the rotated session is counted once')
    await notFound(t, store.get(target, { touch: false }), 'a rotation made before it is ended')
    for (let round = 0; round < 8; round++) {
      const s = await create({ userId: 'u1' })
      const next = rotationTarget(s.handle)
      const ops: Promise<unknown>[] = [store.rotate(s.handle, next, {}), store.revokeUserSessions('u1', {})]
      if (round % 2 === 1) ops.reverse()
      await Promise.allSettled(ops)
      await notFound(t, store.get(next, { touch: false }), `round ${round}: the rotated handle is not live`)
      await t.rejects(store.get(s.handle, { touch: false }), { name: 'AppError' }, `round ${round}: the old handle is not live`)
      t.strictSame(await store.listUserSessions('u1'), [], `round ${round}: nothing listed`)
    }
  })
}

/** A store with maxSessionsPerUser 2 and user u1 at it: session a, then b a second later. */
async function userAtLimit(setup: Setup): Promise<Fixture & { readonly a: SessionRecord; readonly b: SessionRecord }> {
  const fixture = await setup({ limits: { maxSessionsPerUser: 2 } })
  const a = await fixture.create({ userId: 'u1' })
  fixture.clock.advance(1000)
  const b = await fixture.create({ userId: 'u1' })
  return { ...fixture, a, b }
}

/** The 'maxSessionsPerUser' cases. A login over the limit ends the least recently used session. */
export const maxSessionsPerUserTests: Cases = (t, setup) => {
  t.test('a third login ends the least recently used session', async (t) => {
    const { store, create, clock, a, b } = await userAtLimit(setup)
    clock.advance(1000)
    await store.get(a.handle, { touch: true }) // a is now the most recently used
    const other = await create({ userId: 'u2' })
    const anon = await create()
    clock.advance(1000)
    const c = await create({ userId: 'u1' })
    await notFound(t, store.get(b.handle, { touch: false }), 'b, the least recently used, was ended')
    t.strictSame((await store.listUserSessions('u1')).map((s) => s.handle), [c.handle, a.handle], 'c and a remain')
    t.equal((await store.get(other.handle, { touch: false })).handle, other.handle, 'another user untouched')
    t.equal((await store.get(anon.handle, { touch: false })).handle, anon.handle, 'anonymous sessions untouched')
    t.equal((await store.countSessions()).total, 4)
  })

  t.test('binding by rotation also ends the least recently used session', async (t) => {
    const { store, create, clock, a, b } = await userAtLimit(setup)
    const anon = await create()
    clock.advance(1000)
    const target = rotationTarget(anon.handle)
    await store.rotate(anon.handle, target, { userId: 'u1' })
    await notFound(t, store.get(a.handle, { touch: false }), 'a, the least recently used, was ended')
    t.strictSame((await store.listUserSessions('u1')).map((s) => s.handle).sort(), [target, b.handle].sort(), 'the rotated session and b remain')
  })

  t.test('rotating a session already bound to the user ends nothing', async (t) => {
    const { store, clock, a, b } = await userAtLimit(setup)
    clock.advance(1000)
    const t1 = rotationTarget(b.handle)
    await store.rotate(b.handle, t1, {})
    const t2 = rotationTarget(t1)
    await store.rotate(t1, t2, { userId: 'u1' })
    t.strictSame((await store.listUserSessions('u1')).map((s) => s.handle).sort(), [a.handle, t2].sort(), 'both sessions remain')
  })

  t.test('null means unlimited', async (t) => {
    const { store, create } = await setup({ limits: { maxSessionsPerUser: null } })
    for (let i = 0; i < 12; i++) await create({ userId: 'u1' })
    t.equal((await store.listUserSessions('u1')).length, 12)
  })
}
