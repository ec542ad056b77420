/**
 * Conditional and compound writes: ifMatch (optimistic concurrency), incr
 * (integer counters) and patch batches, which apply whole or not at all.
 */
import type { JsonValue, SessionData } from '../../../src/store/types.js'
import { newHandle, norm, notFound, rejectsCode, type Cases } from './fixture.js'

/** The 'ifMatch' cases. A write with ifMatch lands only on that version. */
export const ifMatchTests: Cases = (t, setup) => {
  t.test('a stale ifMatch is precondition_failed and writes nothing', async (t) => {
    const { store, create, snapshot, clock } = await setup()
    const { handle } = await create({ data: { a: 1, b: 2 } })
    await store.setKey(handle, 'a', 10, { touch: false }) // version 2
    const before = await snapshot(handle)
    clock.advance(5000)
    await rejectsCode(t, store.setKey(handle, 'a', 11, { touch: true, ifMatch: 1 }), 'precondition_failed', 'setKey with a stale version')
    await rejectsCode(t, store.setKey(handle, 'new', 11, { touch: true, ifMatch: 3 }), 'precondition_failed', 'setKey with a future version')
    await rejectsCode(t, store.deleteKey(handle, 'b', { touch: true, ifMatch: 1 }), 'precondition_failed', 'deleteKey of an existing key')
    await rejectsCode(t, store.deleteKey(handle, 'missing', { touch: true, ifMatch: 1 }), 'precondition_failed', 'deleteKey of a missing key')
    await rejectsCode(t, store.patch(handle, { set: { c: 3 }, del: ['b'], incr: { n: 1 } }, { touch: true, ifMatch: 1 }), 'precondition_failed', 'patch')
    t.strictSame(await snapshot(handle), before, 'the session is exactly as before (no data, version or expiry change)')
  })

  t.test('a current ifMatch succeeds', async (t) => {
    const { store, create } = await setup()
    const { handle } = await create({ data: { a: 1 } })
    t.equal(await store.setKey(handle, 'a', 2, { touch: false, ifMatch: 1 }), 2)
    t.equal(await store.deleteKey(handle, 'missing', { touch: false, ifMatch: 2 }), 2, 'deleting a missing key with the current version changes nothing')
    t.equal(await store.deleteKey(handle, 'a', { touch: false, ifMatch: 2 }), 3)
    const rec = await store.patch(handle, { set: { b: 1 } }, { touch: false, ifMatch: 3 })
    t.equal(rec.version, 4)
    t.strictSame(norm(rec.data), { b: 1 })
  })

  t.test('ifMatch on an unknown session is session_not_found, not precondition_failed', async (t) => {
    const { store } = await setup()
    await notFound(t, store.setKey(newHandle(), 'a', 1, { touch: false, ifMatch: 1 }), 'setKey')
    await notFound(t, store.patch(newHandle(), { set: { a: 1 } }, { touch: false, ifMatch: 1 }), 'patch')
    await notFound(t, store.deleteKey(newHandle(), 'a', { touch: false, ifMatch: 1 }), 'deleteKey')
  })
}

/** The 'incr' cases. Increments: integers only, inside the safe range. */
export const incrTests: Cases = (t, setup) => {
  t.test('a missing key counts as 0 and results are integers', async (t) => {
    const { store, create } = await setup()
    const { handle } = await create({ data: { m: 10 } })
    let rec = await store.patch(handle, { incr: { n: 5 } }, { touch: false })
    t.equal(rec.data['n'], 5, 'missing + 5 = 5')
    rec = await store.patch(handle, { incr: { n: -7, m: 1 } }, { touch: false })
    t.equal(rec.data['n'], -2)
    t.equal(rec.data['m'], 11)
    t.equal(rec.version, 3, 'one version per batch')
    rec = await store.patch(handle, { incr: { n: 0 } }, { touch: false })
    t.equal(rec.version, 3, 'an increment by 0 changes nothing')
    t.strictSame(norm(await store.getKey(handle, 'n', { touch: false })), { value: -2, version: 3 }, 'stored as a JSON number')
  })

  t.test('incrementing a non-integer is conflict and writes nothing', async (t) => {
    const { store, create, snapshot } = await setup()
    const bad: [string, JsonValue][] = [
      ['string', 'x'],
      ['numericString', '5'],
      ['float', 1.5],
      ['bool', true],
      ['null', null],
      ['array', [1]],
      ['object', { n: 1 }]
    ]
    const data: SessionData = { ok: 1 }
    for (const [name, value] of bad) data[name] = value
    const { handle } = await create({ data })
    const before = await snapshot(handle)
    for (const [name] of bad) {
      await rejectsCode(t, store.patch(handle, { incr: { [name]: 1 } }, { touch: true }), 'conflict', `incr of ${name}`)
    }
    await rejectsCode(t, store.patch(handle, { incr: { ok: 1, string: 1 } }, { touch: true }), 'conflict', 'a batch with one bad increment')
    t.strictSame(await snapshot(handle), before, 'nothing was written')
  })

  t.test('an increment leaving the safe integer range is conflict', async (t) => {
    const { store, create, snapshot } = await setup()
    const { handle } = await create({ data: { hi: Number.MAX_SAFE_INTEGER, lo: Number.MIN_SAFE_INTEGER } })
    const before = await snapshot(handle)
    await rejectsCode(t, store.patch(handle, { incr: { hi: 1 } }, { touch: false }), 'conflict', 'MAX_SAFE_INTEGER + 1')
    await rejectsCode(t, store.patch(handle, { incr: { lo: -1 } }, { touch: false }), 'conflict', 'MIN_SAFE_INTEGER - 1')
    t.strictSame(await snapshot(handle), before, 'nothing was written')
    const rec = await store.patch(handle, { incr: { hi: -1, lo: 1 } }, { touch: false })
    t.strictSame(norm(rec.data), { hi: Number.MAX_SAFE_INTEGER - 1, lo: Number.MIN_SAFE_INTEGER + 1 }, 'inside the range works')
  })

  t.test('an increment by a non-safe-integer amount is validation_failed', async (t) => {
    const { store, create, snapshot } = await setup()
    const { handle } = await create({ data: { n: 1 } })
    const before = await snapshot(handle)
    await rejectsCode(t, store.patch(handle, { incr: { n: 1.5 } }, { touch: false }), 'validation_failed', 'by 1.5')
    await rejectsCode(t, store.patch(handle, { incr: { n: 2 ** 53 } }, { touch: false }), 'validation_failed', 'by 2^53')
    t.strictSame(await snapshot(handle), before, 'nothing was written')
  })
}

/** The 'batch' cases. A patch is one write: all of it or nothing. */
export const batchTests: Cases = (t, setup) => {
  t.test('a batch with one failing part writes nothing', async (t) => {
    const { store, create, snapshot, clock } = await setup({ limits: { maxValueBytes: 64 } })
    const { handle } = await create({ data: { a: 1, b: 2, s: 'text', n: 1 } })
    const before = await snapshot(handle)
    clock.advance(1000)
    await rejectsCode(t, store.patch(handle, { set: { a: 100, c: 3 }, del: ['b'], incr: { n: 1, s: 1 } }, { touch: true }), 'conflict', 'one increment of a non-integer')
    await rejectsCode(t, store.patch(handle, { set: { a: 100, big: 'x'.repeat(100) }, del: ['b'], incr: { n: 1 } }, { touch: true }), 'payload_too_large', 'one value over maxValueBytes')
    await rejectsCode(t, store.patch(handle, { set: { a: 100 }, del: ['b', 'bad key'], incr: { n: 1 } }, { touch: true }), 'validation_failed', 'one bad key')
    t.strictSame(await snapshot(handle), before, 'the session is exactly as before')
  })

  t.test('a key named twice is validation_failed', async (t) => {
    const { store, create, snapshot } = await setup()
    const { handle } = await create({ data: { a: 1 } })
    const before = await snapshot(handle)
    await rejectsCode(t, store.patch(handle, { set: { a: 2 }, del: ['a'] }, { touch: false }), 'validation_failed', 'set and del')
    await rejectsCode(t, store.patch(handle, { set: { a: 2 }, incr: { a: 1 } }, { touch: false }), 'validation_failed', 'set and incr')
    await rejectsCode(t, store.patch(handle, { del: ['a'], incr: { a: 1 } }, { touch: false }), 'validation_failed', 'del and incr')
    await rejectsCode(t, store.patch(handle, { del: ['a', 'a'] }, { touch: false }), 'validation_failed', 'del twice')
    t.strictSame(await snapshot(handle), before, 'nothing was written')
  })

  t.test('an empty batch is validation_failed', async (t) => {
    const { store, create, snapshot } = await setup()
    const { handle } = await create({ data: { a: 1 } })
    const before = await snapshot(handle)
    await rejectsCode(t, store.patch(handle, {}, { touch: false }), 'validation_failed', '{}')
    await rejectsCode(t, store.patch(handle, { set: {}, del: [], incr: {} }, { touch: false }), 'validation_failed', 'three empty parts')
    t.strictSame(await snapshot(handle), before, 'nothing was written')
  })
}
