/**
 * Limits on what a session holds: key syntax, maxValueBytes, maxKeys and
 * maxSessionBytes, each checked on every write path and on create; a write
 * over a limit writes nothing.
 */
import { norm, rejectsCode, type Cases } from './fixture.js'

/** The 'limits' cases. Key syntax and the size limits. */
export const limitTests: Cases = (t, setup) => {
  t.test('a malformed key is validation_failed everywhere and writes nothing', async (t) => {
    const { store, create, snapshot, clock } = await setup()
    const { handle } = await create({ data: { a: 1 } })
    const before = await snapshot(handle)
    clock.advance(1000)
    const badKeys = ['', 'a b', 'a/b', 'ä', 'a\n', 'a{b}', 'a@b', 'k'.repeat(129)]
    for (const key of badKeys) {
      const label = JSON.stringify(key.length > 20 ? `${key.slice(0, 8)}…(${key.length})` : key)
      await rejectsCode(t, store.setKey(handle, key, 1, { touch: true }), 'validation_failed', `setKey ${label}`)
      await rejectsCode(t, store.getKey(handle, key, { touch: true }), 'validation_failed', `getKey ${label}`)
      await rejectsCode(t, store.deleteKey(handle, key, { touch: true }), 'validation_failed', `deleteKey ${label}`)
      await rejectsCode(t, store.patch(handle, { set: { [key]: 1 } }, { touch: true }), 'validation_failed', `patch set ${label}`)
      await rejectsCode(t, store.patch(handle, { del: [key] }, { touch: true }), 'validation_failed', `patch del ${label}`)
      await rejectsCode(t, store.patch(handle, { incr: { [key]: 1 } }, { touch: true }), 'validation_failed', `patch incr ${label}`)
      await rejectsCode(t, create({ data: { ok: 1, [key]: 1 } }), 'validation_failed', `create with data key ${label}`)
    }
    t.strictSame(await snapshot(handle), before, 'the session is exactly as before')
    t.equal((await store.countSessions()).total, 1, 'no failed create made a session')
    const longest = 'k'.repeat(128)
    t.equal(await store.setKey(handle, longest, 1, { touch: false }), 2, 'a 128-character key is fine')
    t.equal(await store.setKey(handle, 'Az09._:-', 1, { touch: false }), 3, 'every allowed character is fine')
  })

  t.test('a value over maxValueBytes is payload_too_large, counted in bytes', async (t) => {
    const { store, create, snapshot, clock } = await setup({ limits: { maxValueBytes: 64 } })
    const { handle } = await create({ data: { a: 1 } })
    clock.advance(1000)
    t.equal(await store.setKey(handle, 'ascii', 'x'.repeat(62), { touch: false }), 2, 'exactly 64 bytes serialized is fine')
    t.equal(await store.setKey(handle, 'utf8', 'é'.repeat(31), { touch: false }), 3, '31 two-byte characters + quotes = 64 bytes is fine')
    const before = await snapshot(handle)
    clock.advance(1000)
    await rejectsCode(t, store.setKey(handle, 'ascii', 'x'.repeat(63), { touch: true }), 'payload_too_large', '65 bytes via setKey')
    await rejectsCode(t, store.setKey(handle, 'utf8', 'é'.repeat(32), { touch: true }), 'payload_too_large', '34 characters but 66 bytes')
    await rejectsCode(t, store.patch(handle, { set: { b: 2, big: ['x'.repeat(70)] } }, { touch: true }), 'payload_too_large', 'via patch')
    t.strictSame(await snapshot(handle), before, 'the session is exactly as before')
    await rejectsCode(t, create({ data: { big: 'x'.repeat(63) } }), 'payload_too_large', 'via create')
    t.equal((await store.countSessions()).total, 1, 'the failed create made no session')
  })

  t.test('more than maxKeys keys is payload_too_large; replacing or swapping at the limit is fine', async (t) => {
    const { store, create, snapshot, clock } = await setup({ limits: { maxKeys: 4 } })
    const { handle } = await create({ data: { k1: 1, k2: 2, k3: 3 } })
    t.equal(await store.setKey(handle, 'k4', 4, { touch: false }), 2, 'the fourth key fits')
    const before = await snapshot(handle)
    clock.advance(1000)
    await rejectsCode(t, store.setKey(handle, 'k5', 5, { touch: true }), 'payload_too_large', 'a fifth key via setKey')
    await rejectsCode(t, store.patch(handle, { set: { k5: 5 } }, { touch: true }), 'payload_too_large', 'a fifth key via patch set')
    await rejectsCode(t, store.patch(handle, { incr: { k5: 1 } }, { touch: true }), 'payload_too_large', 'a fifth key via patch incr')
    await rejectsCode(t, store.patch(handle, { set: { k5: 5, k6: 6 }, del: ['k1'] }, { touch: true }), 'payload_too_large', 'two in, one out')
    t.strictSame(await snapshot(handle), before, 'the session is exactly as before')
    t.equal(await store.setKey(handle, 'k4', 'replaced', { touch: false }), 3, 'replacing a key at the limit is fine')
    const swapped = await store.patch(handle, { set: { k5: 5 }, del: ['k1'] }, { touch: false })
    t.strictSame(norm(swapped.data), { k2: 2, k3: 3, k4: 'replaced', k5: 5 }, 'one in, one out at the limit is fine')
    await rejectsCode(t, create({ data: { a: 1, b: 2, c: 3, d: 4, e: 5 } }), 'payload_too_large', 'create with five keys')
    t.equal((await store.countSessions()).total, 1, 'the failed create made no session')
  })

  t.test('more than maxSessionBytes is payload_too_large; exactly the limit is fine', async (t) => {
    // entry bytes = key bytes + JSON text bytes
    const { store, create, snapshot, clock } = await setup({ limits: { maxValueBytes: 64, maxKeys: 10, maxSessionBytes: 150 } })
    const { handle } = await create({ data: { a: 'x'.repeat(48), b: 'x'.repeat(48) } }) // 51 + 51 = 102
    t.equal(await store.setKey(handle, 'c', 'x'.repeat(45), { touch: false }), 2, '102 + 48 = 150 bytes exactly is fine')
    const before = await snapshot(handle)
    clock.advance(1000)
    await rejectsCode(t, store.setKey(handle, 'c', 'x'.repeat(46), { touch: true }), 'payload_too_large', 'growing a value to 151 bytes')
    await rejectsCode(t, store.setKey(handle, 'd', 1, { touch: true }), 'payload_too_large', 'a new key at 152 bytes')
    await rejectsCode(t, store.patch(handle, { set: { d: 1 } }, { touch: true }), 'payload_too_large', 'via patch set')
    await rejectsCode(t, store.patch(handle, { incr: { d: 1 } }, { touch: true }), 'payload_too_large', 'via patch incr')
    await rejectsCode(t, store.patch(handle, { set: { d: 'x'.repeat(44) }, del: ['c'], incr: { e: 1 } }, { touch: true }), 'payload_too_large', 'a batch that frees 48 bytes but adds 49')
    t.strictSame(await snapshot(handle), before, 'the session is exactly as before')
    t.equal(await store.setKey(handle, 'a', 'x', { touch: false }), 3, 'shrinking a value is fine')
    t.equal(await store.setKey(handle, 'd', 'x'.repeat(40), { touch: false }), 4, 'the freed bytes can be used again')
    await rejectsCode(t, create({ data: { a: 'x'.repeat(60), b: 'x'.repeat(60), c: 'x'.repeat(60) } }), 'payload_too_large', 'create with 189 bytes')
    t.equal((await store.countSessions()).total, 1, 'the failed create made no session')
  })
}
