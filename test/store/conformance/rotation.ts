/**
 * Rotation: the session moves to a new handle with everything it holds, the
 * old handle answers session_rotated for ROTATION_GRACE_MS, a rotation can
 * bind or change the user, and of two concurrent rotations one wins.
 */
import { ROTATION_GRACE_MS } from '../../../src/store/types.js'
import { codeOf, metaOf, newHandle, norm, notFound, rejectsCode, rotationTarget, type Cases } from './fixture.js'

/** The 'rotation' cases. rotate(handle, newHandle, { userId? }). */
export const rotationTests: Cases = (t, setup) => {
  t.test('rotation keeps data, version, user and expiry under the new handle', async (t) => {
    const { store, create, clock } = await setup()
    const rec = await create({ userId: 'u1', data: { a: 1, cart: [1, 2] }, userAgent: 'UA', ip: '198.51.100.7' })
    await store.setKey(rec.handle, 'b', 'x', { touch: false })
    clock.advance(10_000)
    const before = await store.get(rec.handle, { touch: false })
    const target = rotationTarget(rec.handle)
    const rotated = await store.rotate(rec.handle, target, {})
    t.equal(rotated.handle, target, 'the record moved to the new handle')
    const kept = { ...metaOf(before) as Record<string, unknown>, handle: target, lastSeenAt: null }
    t.strictSame({ ...metaOf(rotated) as Record<string, unknown>, lastSeenAt: null }, kept, 'rotate resolves to the same record (data, version, userId, authenticatedAt, times)')
    t.strictSame(norm(rotated.data), { a: 1, cart: [1, 2], b: 'x' })
    const read = await store.get(target, { touch: false })
    t.strictSame(norm(read), norm(rotated), 'the new handle reads what rotate returned')
    t.equal((await store.countSessions()).total, 1, 'still one session')
  })

  t.test('the old handle answers session_rotated during the grace period, then session_not_found', async (t) => {
    const { store, create, clock } = await setup()
    const rec = await create({ data: { a: 1 } })
    const target = rotationTarget(rec.handle)
    await store.rotate(rec.handle, target, {})
    const rotated = (p: Promise<unknown>, what: string): Promise<void> => rejectsCode(t, p, 'session_rotated', what)
    await rotated(store.get(rec.handle, { touch: true }), 'get')
    await rotated(store.getKey(rec.handle, 'a', { touch: true }), 'getKey')
    await rotated(store.setKey(rec.handle, 'a', 2, { touch: true }), 'setKey')
    await rotated(store.deleteKey(rec.handle, 'a', { touch: true }), 'deleteKey')
    await rotated(store.patch(rec.handle, { set: { a: 2 } }, { touch: true }), 'patch')
    await rotated(store.rotate(rec.handle, rotationTarget(rec.handle), {}), 'rotate again')
    t.equal(await store.destroy(rec.handle), false, 'destroy of the old handle resolves false')
    const live = await store.get(target, { touch: false })
    t.strictSame(norm(live.data), { a: 1 }, 'the new session is untouched by any of that')
    t.equal(live.version, 1)
    clock.advance(ROTATION_GRACE_MS - 1)
    await rotated(store.get(rec.handle, { touch: false }), 'get 1 ms before the grace period ends')
    clock.advance(1)
    await notFound(t, store.get(rec.handle, { touch: false }), 'get once the grace period has passed')
    await notFound(t, store.setKey(rec.handle, 'a', 2, { touch: true }), 'setKey once the grace period has passed')
    await notFound(t, store.rotate(rec.handle, rotationTarget(rec.handle), {}), 'rotate once the grace period has passed')
    t.strictSame(norm((await store.get(target, { touch: false })).data), { a: 1 }, 'the new session is still live')
  })

  t.test('rotation with a userId binds the user and moves the session between user listings', async (t) => {
    const { store, create, clock } = await setup()
    const anon = await create({ data: { cart: [1] } })
    const t1 = clock.advance(1000)
    const first = rotationTarget(anon.handle)
    const bound = await store.rotate(anon.handle, first, { userId: 'alice' })
    t.equal(bound.userId, 'alice')
    t.equal(bound.authenticatedAt, t1, 'authenticatedAt = now')
    t.strictSame(norm(bound.data), { cart: [1] }, 'data kept on login')
    t.strictSame((await store.listUserSessions('alice')).map((s) => s.handle), [first], 'listed for alice under the new handle')

    const t2 = clock.advance(1000)
    const second = rotationTarget(first)
    const moved = await store.rotate(first, second, { userId: 'bob' })
    t.equal(moved.userId, 'bob')
    t.equal(moved.authenticatedAt, t2)
    t.strictSame(await store.listUserSessions('alice'), [], 'no longer listed for alice')
    t.strictSame((await store.listUserSessions('bob')).map((s) => s.handle), [second], 'listed for bob')

    clock.advance(1000)
    const third = rotationTarget(second)
    const plain = await store.rotate(second, third, {})
    t.equal(plain.userId, 'bob', 'a rotation without userId keeps the user')
    t.equal(plain.authenticatedAt, t2, 'and keeps authenticatedAt')
    t.strictSame((await store.listUserSessions('bob')).map((s) => s.handle), [third], 'listed for bob under the newest handle only')
  })

  t.test('of two concurrent rotations of one handle exactly one succeeds', async (t) => {
    const { store, create } = await setup()
    for (let round = 0; round < 5; round++) {
      const rec = await create({ userId: 'u1', data: { round } })
      const targets = [rotationTarget(rec.handle), rotationTarget(rec.handle)] as const
      const results = await Promise.allSettled([store.rotate(rec.handle, targets[0], {}), store.rotate(rec.handle, targets[1], { userId: 'u2' })])
      const won = results.findIndex((r) => r.status === 'fulfilled')
      t.equal(results.filter((r) => r.status === 'fulfilled').length, 1, `round ${round}: exactly one rotation fulfils`)
      const lost = results.find((r) => r.status === 'rejected')
      if (lost !== undefined && lost.status === 'rejected') {
        t.ok(['session_rotated', 'session_not_found'].includes(codeOf(lost.reason)), `round ${round}: the other fails with session_rotated or session_not_found (got ${codeOf(lost.reason)})`)
      }
      if (won >= 0) {
        const winner = targets[won] as string
        const loser = targets[1 - won] as string
        t.strictSame(norm((await store.get(winner, { touch: false })).data), { round }, `round ${round}: the winner's handle is live`)
        await notFound(t, store.get(loser, { touch: false }), `round ${round}: the loser's handle never existed`)
      }
      const listed = [...(await store.listUserSessions('u1')), ...(await store.listUserSessions('u2'))]
      t.equal(listed.length, 1, `round ${round}: listed once in all`)
      await store.destroy(listed[0]?.handle ?? '')
    }
    t.equal((await store.countSessions()).total, 0, 'no copy was left behind')
  })

  t.test('rotating an unknown or expired handle is session_not_found', async (t) => {
    const { store, create, clock } = await setup()
    await notFound(t, store.rotate(newHandle(), newHandle(), {}), 'an unknown handle')
    const rec = await create({ idleTtlMs: 60_000 })
    clock.advance(60_000)
    const target = rotationTarget(rec.handle)
    await notFound(t, store.rotate(rec.handle, target, { userId: 'u1' }), 'an expired handle')
    await notFound(t, store.get(target, { touch: false }), 'the target was not created')
    t.strictSame(await store.listUserSessions('u1'), [], 'nothing was bound')
  })

  t.test('a rotated session keeps its index entries under the new handle', async (t) => {
    const { store, create } = await setup({ indexedKeys: ['tenant'] })
    const rec = await create({ data: { tenant: 'acme' } })
    const target = rotationTarget(rec.handle)
    await store.rotate(rec.handle, target, { userId: 'u1' })
    const page = await store.listByIndex('tenant', 'acme', { limit: 10, cursor: null })
    t.strictSame(page.sessions.map((s) => s.handle), [target], 'listed under the new handle only')
    t.strictSame(norm(await store.countSessions('tenant')), { total: 1, by: { acme: 1 }, without: 0 }, 'counted once')
    t.equal(await store.revokeByIndex('tenant', 'acme'), 1, 'revoking by index finds the rotated session')
    await notFound(t, store.get(target, { touch: false }), 'and ends it')
  })
}
