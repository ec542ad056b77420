/**
 * The data a session holds: setKey / getKey / deleteKey / patch and how they
 * count versions, every JSON type round-tripping exactly, data keys named like
 * metadata or like Object.prototype's members being ordinary data, and no
 * mutable state shared between the store and its callers.
 */
import type { JsonValue, SessionData } from '../../../src/store/types.js'
import { ABSOLUTE_MS, IDLE_MS } from '../../helpers/store.js'
import { dataOf, metaOf, norm, type Cases } from './fixture.js'

/** Tries to mutate something a store returned; a frozen object refusing is fine too. */
function tryMutate(fn: () => void): void {
  try {
    fn()
  } catch {
    // frozen: also cannot share mutable state
  }
}

/** The 'data operations' cases. Reads and writes of data keys, and the version they count. */
export const dataOperationTests: Cases = (t, setup) => {
  t.test('setKey, getKey and deleteKey; the version grows by one per changing write', async (t) => {
    const { store, create } = await setup()
    const { handle } = await create()
    const missing = await store.getKey(handle, 'a', { touch: false })
    t.equal(missing.value, undefined, 'a missing key reads as undefined')
    t.equal(missing.version, 1)
    t.equal(await store.setKey(handle, 'a', 1, { touch: false }), 2, 'set → 2')
    t.strictSame(norm(await store.getKey(handle, 'a', { touch: false })), { value: 1, version: 2 })
    t.equal(await store.setKey(handle, 'a', 1, { touch: true }), 2, 'a set of the value already stored changes nothing and keeps 2')
    t.equal(await store.setKey(handle, 'a', 2, { touch: false }), 3, 'a set of another value → 3')
    t.equal(await store.setKey(handle, 'b', 'x', { touch: true }), 4, 'set another key → 4')
    t.equal(await store.deleteKey(handle, 'a', { touch: false }), 5, 'delete of an existing key → 5')
    const gone = await store.getKey(handle, 'a', { touch: false })
    t.equal(gone.value, undefined, 'the deleted key reads as undefined')
    t.equal(gone.version, 5)
    t.equal(await store.deleteKey(handle, 'a', { touch: false }), 5, 'deleting it again is idempotent and keeps version 5')
    t.equal(await store.deleteKey(handle, 'never', { touch: true }), 5, 'deleting a key that never existed keeps version 5')
    t.equal(await store.setKey(handle, 'b', 'x', { touch: false, ifMatch: 5 }), 5, 'an unchanged set with the current ifMatch succeeds at that version')
    const rec = await store.get(handle, { touch: false })
    t.equal(rec.version, 5)
    t.strictSame(norm(rec.data), { b: 'x' })
  })

  t.test('patch sets, deletes and increments in one step and one version', async (t) => {
    const { store, create } = await setup()
    const { handle } = await create({ data: { a: 1, b: 2 } })
    const after = await store.patch(handle, { set: { c: 'x', b: { deep: true } }, del: ['a'], incr: { n: 3 } }, { touch: false })
    t.equal(after.version, 2, 'one batch → one version')
    t.strictSame(norm(after.data), { b: { deep: true }, c: 'x', n: 3 })
    t.strictSame(norm(after), norm(await store.get(handle, { touch: false })), 'patch resolves to the whole session after it')
    const noop = await store.patch(handle, { del: ['missing'] }, { touch: false })
    t.equal(noop.version, 2, 'a batch that only deletes missing keys changes nothing')
    const del = await store.patch(handle, { del: ['missing', 'c'] }, { touch: false })
    t.equal(del.version, 3, 'a batch that deletes an existing key → +1')
    t.strictSame(norm(del.data), { b: { deep: true }, n: 3 })
    const same = await store.patch(handle, { set: { n: 3, b: { deep: true } }, incr: { zero: 0 } }, { touch: false })
    t.equal(same.version, 4, 'a batch is one change when any key changes (here the new key zero)')
    const unchanged = await store.patch(handle, { set: { n: 3, b: { deep: true } }, incr: { zero: 0 } }, { touch: false })
    t.equal(unchanged.version, 4, 'a batch that stores only the texts already stored changes nothing')
    t.strictSame(norm(unchanged.data), { b: { deep: true }, n: 3, zero: 0 })
    const changedValue = await store.patch(handle, { set: { b: { other: 1 } } }, { touch: false })
    t.equal(changedValue.version, 5, 'a changed value counts')
  })

  t.test('JSON values of every type round-trip exactly', async (t) => {
    const values: [string, JsonValue][] = [
      ['null', null],
      ['true', true],
      ['false', false],
      ['zero', 0],
      ['int', 42],
      ['negative', -17],
      ['float', 3.25],
      ['tiny', 1e-7],
      ['minSafe', Number.MIN_SAFE_INTEGER],
      ['maxSafe', Number.MAX_SAFE_INTEGER],
      ['emptyString', ''],
      ['text', 'hello'],
      ['numericText', '123'],
      ['nullText', 'null'],
      ['trueText', 'true'],
      ['jsonText', '{"a":1}'],
      ['quoted', '"quoted"'],
      ['escapes', 'line\nbreak\ttab\\back"slash\r'],
      ['unicode', 'héllo 日本 😀'],
      ['nul', 'a\u0000b'],
      ['emptyArray', []],
      ['array', [1, 'two', null, true, [3], { four: 4 }]],
      ['emptyObject', {}],
      ['object', { a: 1, nested: { b: [1, 2, { c: null }] }, 'key with space': 'v', '': 'empty key' }]
    ]
    const { store, create } = await setup()
    const expected: Record<string, unknown> = {}
    const initial: SessionData = {}
    for (const [name, value] of values) {
      expected[`v.${name}`] = norm(value)
      initial[`v.${name}`] = value
    }
    // via create
    const a = await create({ data: initial })
    t.strictSame(norm((await store.get(a.handle, { touch: false })).data), expected, 'create → get')
    // via setKey / getKey
    const b = await create()
    for (const [name, value] of values) {
      await store.setKey(b.handle, `v.${name}`, value, { touch: false })
      const read = await store.getKey(b.handle, `v.${name}`, { touch: false })
      t.strictSame(norm(read.value), norm(value), `setKey → getKey: ${name}`)
    }
    t.strictSame(norm((await store.get(b.handle, { touch: false })).data), expected, 'setKey → get')
    // via patch
    const c = await create()
    const patched = await store.patch(c.handle, { set: initial }, { touch: false })
    t.strictSame(norm(patched.data), expected, 'patch resolves with every value')
    t.strictSame(norm((await store.get(c.handle, { touch: false })).data), expected, 'patch → get')
  })

  t.test('data keys named like metadata are ordinary data', async (t) => {
    const { store, create, clock } = await setup()
    const now = clock.now()
    const rec = await create({ userId: 'u1', data: { userId: 'intruder', version: 99, expiresAt: 0 } })
    await store.setKey(rec.handle, 'handle', 'other', { touch: false })
    await store.patch(rec.handle, { set: { createdAt: 1, lastSeenAt: 1, absoluteExpiresAt: 1, authenticatedAt: 1, ip: 'x', userAgent: 'y', data: 'z' } }, { touch: false })
    const read = await store.get(rec.handle, { touch: false })
    t.strictSame(metaOf(read), {
      handle: rec.handle,
      userId: 'u1',
      version: 3,
      authenticatedAt: now,
      createdAt: now,
      lastSeenAt: now,
      expiresAt: now + IDLE_MS,
      absoluteExpiresAt: now + ABSOLUTE_MS,
      userAgent: null,
      ip: null
    }, 'metadata is untouched')
    t.strictSame(norm(read.data), {
      userId: 'intruder',
      version: 99,
      expiresAt: 0,
      handle: 'other',
      createdAt: 1,
      lastSeenAt: 1,
      absoluteExpiresAt: 1,
      authenticatedAt: 1,
      ip: 'x',
      userAgent: 'y',
      data: 'z'
    }, 'the keys are data')
    t.equal((await store.listUserSessions('intruder')).length, 0, 'a data key userId binds no user')
  })
}

/** The 'prototype-named keys' cases. `__proto__`, `constructor` and friends are inert data. */
export const prototypeKeyTests: Cases = (t, setup) => {
  t.test('__proto__, constructor and prototype are inert data', async (t) => {
    const protoNamesBefore = Object.getOwnPropertyNames(Object.prototype).sort()
    const { store, create } = await setup()
    const fresh = await create()
    for (const key of ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty']) {
      const read = await store.getKey(fresh.handle, key, { touch: false })
      t.equal(read.value, undefined, `getKey("${key}") of a session without it is undefined`)
    }
    const freshData = (await store.get(fresh.handle, { touch: false })).data
    t.equal(Object.getPrototypeOf(freshData), null, 'data is a null-prototype map')
    t.strictSame(Object.keys(freshData), [], 'and has no keys')

    const { handle } = await create({ data: dataOf('{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"prototype":1}') })
    let rec = await store.get(handle, { touch: false })
    t.ok(Object.hasOwn(rec.data, '__proto__'), '__proto__ is an own key')
    t.ok(Object.hasOwn(rec.data, 'constructor'), 'constructor is an own key')
    t.strictSame(norm(rec.data['__proto__']), { polluted: true })
    t.strictSame(norm(rec.data['constructor']), { prototype: { polluted: true } })
    t.equal(rec.data['prototype'], 1)
    t.strictSame(Object.keys(rec.data).sort(), ['__proto__', 'constructor', 'prototype'])

    await store.setKey(handle, '__proto__', { polluted: 'again' }, { touch: false })
    t.strictSame(norm((await store.getKey(handle, '__proto__', { touch: false })).value), { polluted: 'again' }, 'setKey/getKey of __proto__')
    rec = await store.patch(handle, { set: dataOf('{"__proto__":{"polluted":3}}'), incr: { prototype: 1 }, del: ['constructor'] }, { touch: false })
    t.strictSame(norm(rec.data['__proto__']), { polluted: 3 }, 'patch set of __proto__')
    t.equal(rec.data['prototype'], 2, 'patch incr of prototype')
    t.notOk(Object.hasOwn(rec.data, 'constructor'), 'patch del of constructor')
    const counter = await create()
    const counted = await store.patch(counter.handle, { incr: { constructor: 1 } }, { touch: false })
    t.equal(counted.data['constructor'], 1, 'incr of a missing "constructor" starts from 0, not from Object')
    t.equal(await store.deleteKey(counter.handle, '__proto__', { touch: false }), 2, 'deleting a missing __proto__ changes nothing')

    t.equal(({} as Record<string, unknown>)['polluted'], undefined, '({}).polluted stays undefined')
    t.strictSame(Object.getOwnPropertyNames(Object.prototype).sort(), protoNamesBefore, 'Object.prototype untouched')
  })
}

/** The 'no shared mutable state' cases. Inputs are copied in, results copied out. */
export const isolationTests: Cases = (t, setup) => {
  t.test('mutating inputs or returned values never changes what is stored', async (t) => {
    const { store, create } = await setup()
    const input = { cart: { items: [1] }, tags: ['a'] }
    const rec = await create({ userId: 'u1', data: input })
    input.cart.items.push(2)
    input.tags.push('b')
    ;(input as Record<string, unknown>)['extra'] = 1
    const value = { list: [1] }
    await store.setKey(rec.handle, 'v', value, { touch: false })
    value.list.push(2)
    const patchValue = { deep: { n: 1 } }
    await store.patch(rec.handle, { set: { p: patchValue } }, { touch: false })
    patchValue.deep.n = 2
    const expected = norm(await store.get(rec.handle, { touch: false }))
    t.strictSame(expected, norm({ ...rec, version: 3, data: { cart: { items: [1] }, tags: ['a'], v: { list: [1] }, p: { deep: { n: 1 } } } }), 'inputs were copied')

    const read = await store.get(rec.handle, { touch: false })
    tryMutate(() => { (read.data['cart'] as { items: number[] }).items.push(99) })
    tryMutate(() => { read.data['new'] = 1 })
    tryMutate(() => { (read as { version: number }).version = 99 })
    tryMutate(() => { (read as { userId: string | null }).userId = 'mallory' })
    const key = await store.getKey(rec.handle, 'v', { touch: false })
    tryMutate(() => { (key.value as { list: number[] }).list.push(99) })
    const patched = await store.patch(rec.handle, { set: { q: 1 } }, { touch: false })
    tryMutate(() => { (patched.data['p'] as { deep: { n: number } }).deep.n = 99 })
    const listed = await store.listUserSessions('u1')
    tryMutate(() => { (listed[0] as { expiresAt: number }).expiresAt = 0 })
    t.strictSame(norm(await store.get(rec.handle, { touch: false })), { ...(expected as Record<string, unknown>), version: 4, data: { ...((expected as { data: Record<string, unknown> }).data), q: 1 } }, 'returned values were copies')
    t.strictSame(norm(await store.listUserSessions('u1')), [metaOf(await store.get(rec.handle, { touch: false }))], 'listings are copies too')
  })

  t.test('a record or value handed out stays as it was through later writes', async (t) => {
    const { store, create, clock } = await setup()
    const rec = await create({ data: { n: 1, list: [1], gone: 'x' } })
    const read = await store.get(rec.handle, { touch: false })
    const value = await store.getKey(rec.handle, 'list', { touch: false })
    const before = norm(read)
    clock.advance(1_000)
    await store.setKey(rec.handle, 'list', [1, 2], { touch: true })
    await store.patch(rec.handle, { set: { added: true }, incr: { n: 1 } }, { touch: true })
    await store.deleteKey(rec.handle, 'gone', { touch: true })
    t.strictSame(norm(read), before, 'the record read before the writes')
    t.strictSame(norm(rec), before, 'the record create returned')
    t.strictSame(norm(value), { value: [1], version: 1 }, 'the value read alone')
    t.strictSame(norm((await store.get(rec.handle, { touch: false })).data), { n: 2, list: [1, 2], added: true }, 'a new read sees every write')
  })
}
