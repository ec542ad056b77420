/**
 * Collection entries of INDEXED_KEYS (`tags[]`, `cart[].sku`): what a value
 * files a session under, how every write path keeps the filing exact,
 * MAX_INDEX_VALUES, and counting sessions per value and without one.
 */
import type { Store } from '../../../src/store/types.js'
import { rotationTarget, type Cases } from './fixture.js'

const handlesUnder = async (store: Store, key: string, value: string): Promise<string[]> =>
  (await store.listByIndex(key, value, { limit: 1000, cursor: null })).sessions.map((s) => s.handle)

/** The counts as plain JSON, for exact comparison. */
const countsOf = async (store: Store, key: string): Promise<unknown> => {
  const { total, by, without } = await store.countSessions(key)
  return { total, by: { ...by }, without }
}

/** The 'collection indexes' cases. */
export const collectionIndexTests: Cases = (t, setup) => {
  const entries = { indexedKeys: ['tags[]', 'cart[].sku', 'cart[].brand', 'tenant', 'n'] } as const

  t.test('x[] files each scalar element; x[].m the member of each object element; strings as themselves, numbers and booleans as JSON', async (t) => {
    const { store, create } = await setup(entries)
    const s = await create({
      data: {
        tags: ['vip', 7, true, null, ['nested'], { o: 1 }, 'vip', ''],
        cart: [{ sku: 'SKU-1', brand: 'acme' }, { sku: 2 }, { sku: false }, { sku: null }, { sku: ['x'] }, { brand: 'acme' }, 'SKU-3', ['SKU-4'], null, { sku: 'SKU-1' }]
      }
    })
    for (const value of ['vip', '7', 'true', '']) t.same(await handlesUnder(store, 'tags[]', value), [s.handle], `tags[] files ${JSON.stringify(value)}`)
    for (const value of ['null', 'nested', '["nested"]', '{"o":1}']) t.same(await handlesUnder(store, 'tags[]', value), [], `tags[] does not file ${value}`)
    for (const value of ['SKU-1', '2', 'false']) t.same(await handlesUnder(store, 'cart[].sku', value), [s.handle], `cart[].sku files ${value}`)
    for (const value of ['SKU-3', 'SKU-4', 'null', 'x']) t.same(await handlesUnder(store, 'cart[].sku', value), [], `cart[].sku does not file ${value}`)
    t.same(await handlesUnder(store, 'cart[].brand', 'acme'), [s.handle], 'two entries of one data key file from the same value')
    t.same(await countsOf(store, 'tags[]'), { total: 1, by: { vip: 1, 7: 1, true: 1, '': 1 }, without: 0 }, 'a value held twice counts the session once under it')
    t.same(await countsOf(store, 'cart[].sku'), { total: 1, by: { 'SKU-1': 1, 2: 1, false: 1 }, without: 0 })
  })

  t.test('a non-array under x[] files nothing, and x[] and x itself are different entries', async (t) => {
    const { store, create } = await setup({ indexedKeys: ['tags', 'tags[]', 'cart[].sku'] })
    const scalar = await create({ data: { tags: 'vip', cart: { sku: 'SKU-1' } } })
    const list = await create({ data: { tags: ['vip'] } })
    t.same(await handlesUnder(store, 'tags', 'vip'), [scalar.handle], 'the plain entry files the scalar')
    t.same(await handlesUnder(store, 'tags[]', 'vip'), [list.handle], 'the collection entry files the element')
    t.same(await handlesUnder(store, 'cart[].sku', 'SKU-1'), [], 'an object is not an array of objects')
    t.same(await countsOf(store, 'cart[].sku'), { total: 2, by: {}, without: 2 })
  })

  t.test('counts: per value, each session once per value, and without a value', async (t) => {
    const { store, create } = await setup(entries)
    await create({ data: { cart: [{ sku: 'SKU-1' }, { sku: 'SKU-2' }], tenant: 'acme' } })
    await create({ data: { cart: [{ sku: 'SKU-1' }, { sku: 'SKU-1' }], tenant: 'acme' } })
    await create({ data: { cart: [], tenant: 'globex' } })
    await create({ data: { cart: [{ brand: 'only' }] } })
    await create()
    t.same(await countsOf(store, 'cart[].sku'), { total: 5, by: { 'SKU-1': 2, 'SKU-2': 1 }, without: 3 }, 'two carts hold SKU-1; three sessions hold no SKU')
    t.same(await countsOf(store, 'tenant'), { total: 5, by: { acme: 2, globex: 1 }, without: 2 }, 'a plain entry: total minus the sum')
    const { total, by, without } = await store.countSessions()
    t.same({ total, by: { ...by }, without }, { total: 5, by: {}, without: null }, 'without an entry there is no without')
  })

  t.test('listing a collection value pages stably, each session once', async (t) => {
    const { store, create } = await setup(entries)
    const holders = await Promise.all(Array.from({ length: 7 }, (_, i) => create({ data: { cart: [{ sku: 'SKU-1' }, { sku: `other-${i}` }, { sku: 'SKU-1' }] } })))
    await create({ data: { cart: [{ sku: 'SKU-2' }] } })
    const seen: string[] = []
    let cursor: string | null = null
    for (let pages = 0; pages < 20; pages++) {
      const page = await store.listByIndex('cart[].sku', 'SKU-1', { limit: 3, cursor })
      seen.push(...page.sessions.map((s) => s.handle))
      if (page.nextCursor === null) break
      cursor = page.nextCursor
      // A write between pages re-files a session that stays under the value.
      await store.setKey(holders[0]?.handle ?? '', 'cart', [{ sku: 'SKU-1' }, { sku: 'new' }], { touch: false })
    }
    t.same(seen, holders.map((h) => h.handle).sort(), 'every holder once, in handle order')
  })

  t.test('every write path re-files: set, patch set and del, delete, and an increment of a plain entry', async (t) => {
    const { store, create } = await setup(entries)
    const s = await create({ data: { tags: ['a', 'b'], n: 1 } })
    await store.setKey(s.handle, 'tags', ['b', 'c'], { touch: false })
    t.same(await handlesUnder(store, 'tags[]', 'a'), [], 'set: an element gone is unfiled')
    t.same(await handlesUnder(store, 'tags[]', 'c'), [s.handle], 'set: a new element is filed')
    t.same(await handlesUnder(store, 'tags[]', 'b'), [s.handle], 'set: a kept element stays filed')
    await store.patch(s.handle, { set: { tags: ['d'], cart: [{ sku: 'SKU-9' }] }, incr: { n: 2 } }, { touch: false })
    t.same(await handlesUnder(store, 'tags[]', 'b'), [], 'patch set: unfiled')
    t.same(await handlesUnder(store, 'tags[]', 'd'), [s.handle], 'patch set: filed')
    t.same(await handlesUnder(store, 'cart[].sku', 'SKU-9'), [s.handle], 'patch set of another entry in the same batch')
    t.same(await handlesUnder(store, 'n', '3'), [s.handle], 'incr: a plain numeric entry is filed under the new value')
    t.same(await handlesUnder(store, 'n', '1'), [], 'incr: and no longer under the old one')
    await store.patch(s.handle, { del: ['tags'] }, { touch: false })
    t.same(await handlesUnder(store, 'tags[]', 'd'), [], 'patch del: unfiled')
    await store.deleteKey(s.handle, 'cart', { touch: false })
    t.same(await handlesUnder(store, 'cart[].sku', 'SKU-9'), [], 'delete: unfiled')
    await store.setKey(s.handle, 'tags', 'now a scalar', { touch: false })
    t.same(await countsOf(store, 'tags[]'), { total: 1, by: {}, without: 1 }, 'a scalar where an array was files nothing')
  })

  t.test('an increment of a key under x[] cannot file anything: a number is not an array', async (t) => {
    const { store, create } = await setup({ indexedKeys: ['qty[]'] })
    const s = await create({ data: { qty: 1 } })
    await store.patch(s.handle, { incr: { qty: 1 } }, { touch: false })
    t.same(await countsOf(store, 'qty[]'), { total: 1, by: {}, without: 1 })
    await store.setKey(s.handle, 'qty', [1, 2], { touch: false })
    await t.rejects(store.patch(s.handle, { incr: { qty: 1 } }, { touch: false }), { code: 'conflict' }, 'an array cannot be incremented')
    t.same(await countsOf(store, 'qty[]'), { total: 1, by: { 1: 1, 2: 1 }, without: 0 }, 'and its filing is unchanged')
  })

  t.test('rotation moves every filing to the new handle; destroy, logout-all and revocation by value unfile all', async (t) => {
    const { store, create } = await setup(entries)
    const a = await create({ userId: 'u1', data: { cart: [{ sku: 'SKU-1' }, { sku: 'SKU-2' }], tags: ['x'] } })
    const b = await create({ userId: 'u2', data: { cart: [{ sku: 'SKU-1' }] } })
    const c = await create({ userId: 'u3', data: { cart: [{ sku: 'SKU-2' }], tags: ['x'] } })
    const d = await create({ data: { cart: [{ sku: 'SKU-3' }] } })
    const moved = rotationTarget(a.handle)
    await store.rotate(a.handle, moved, {})
    t.same(await handlesUnder(store, 'cart[].sku', 'SKU-2'), [moved, c.handle].sort(), 'rotation: filed under the new handle only')
    t.same(await handlesUnder(store, 'tags[]', 'x'), [moved, c.handle].sort())
    t.equal(await store.revokeByIndex('cart[].sku', 'SKU-1'), 2, 'revoking the carts holding SKU-1 ends two sessions')
    t.same(await handlesUnder(store, 'cart[].sku', 'SKU-2'), [c.handle], 'the revoked session is unfiled from its other values too')
    t.same(await handlesUnder(store, 'tags[]', 'x'), [c.handle], 'and from its other entries')
    t.equal(await store.revokeUserSessions('u3', {}), 1)
    t.same(await countsOf(store, 'cart[].sku'), { total: 1, by: { 'SKU-3': 1 }, without: 0 }, 'logout-all unfiles')
    t.equal(await store.destroy(d.handle), true)
    t.same(await countsOf(store, 'cart[].sku'), { total: 0, by: {}, without: 0 }, 'destroy unfiles')
    t.equal(b.userId, 'u2')
  })

  t.test('an expired session is neither listed nor counted under its collection values', async (t) => {
    const { store, create, clock } = await setup(entries)
    await create({ data: { cart: [{ sku: 'SKU-1' }] }, idleTtlMs: 60_000 })
    const kept = await create({ data: { cart: [{ sku: 'SKU-1' }] } })
    clock.advance(61_000)
    t.same(await handlesUnder(store, 'cart[].sku', 'SKU-1'), [kept.handle], 'not listed')
    t.same(await countsOf(store, 'cart[].sku'), { total: 1, by: { 'SKU-1': 1 }, without: 0 }, 'not counted')
  })

  t.test('MAX_INDEX_VALUES: more distinct values for one entry is payload_too_large and writes nothing', async (t) => {
    const { store, create, snapshot } = await setup({ indexedKeys: ['tags[]', 'cart[].sku'], limits: { maxIndexValues: 3 } })
    const s = await create({ data: { tags: ['a', 'b', 'c', 'a', 'b'], cart: [{ sku: '1' }, { sku: '2' }, { sku: '3' }] } })
    t.pass('exactly the limit, with repeats, is accepted')
    const before = await snapshot(s.handle)
    await t.rejects(store.setKey(s.handle, 'tags', ['a', 'b', 'c', 'd'], { touch: false }), { code: 'payload_too_large' }, 'set over the limit')
    await t.rejects(
      store.patch(s.handle, { set: { other: 1, cart: [{ sku: '1' }, { sku: '2' }, { sku: '3' }, { sku: 4 }] }, del: ['tags'] }, { touch: false }),
      { code: 'payload_too_large' },
      'a batch that crosses it together with other changes'
    )
    t.same(await snapshot(s.handle), before, 'the session is exactly as it was')
    t.same(await handlesUnder(store, 'tags[]', 'a'), [s.handle], 'and so is its filing')
    await t.rejects(create({ data: { tags: ['1', '2', '3', '4'] } }), { code: 'payload_too_large' }, 'create over the limit')
    t.equal((await store.countSessions()).total, 1, 'the refused create made no session')
    // Many elements under one value, or values of another entry, do not count towards an entry's limit.
    await store.setKey(s.handle, 'tags', Array.from({ length: 50 }, () => 'same'), { touch: false })
    t.same(await handlesUnder(store, 'tags[]', 'same'), [s.handle])
  })
}
