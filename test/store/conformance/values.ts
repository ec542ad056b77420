/**
 * What a value and the text around a session may hold, so that both backends
 * keep and serve exactly the same: nesting up to MAX_VALUE_DEPTH, numbers
 * within the safe integer range, valid UTF-16 everywhere (Redis keeps UTF-8),
 * indexed values up to MAX_INDEX_VALUE_BYTES, a userAgent cut whole.
 */
import { MAX_INDEX_VALUE_BYTES, MAX_VALUE_DEPTH } from '../../../src/limits.js'
import type { JsonValue, Store } from '../../../src/store/types.js'
import type { Test } from 'tap'
import { norm, rejectsCode, rotationTarget, type Cases } from './fixture.js'

/** An array nested `depth` deep around 1, built without recursion. */
function nested(depth: number): JsonValue {
  let value: JsonValue = 1
  for (let i = 0; i < depth; i++) value = [value]
  return value
}

/** Every way a value is written refuses `value` with `code`; `create` must make no session. */
async function refusedEverywhere(t: Test, store: Store, handle: string, value: unknown, code: string, what: string, key = 'k'): Promise<void> {
  const v = value as JsonValue
  await rejectsCode(t, store.setKey(handle, key, v, { touch: true }), code, `setKey ${what}`)
  await rejectsCode(t, store.patch(handle, { set: { [key]: v } }, { touch: true }), code, `patch set ${what}`)
  await rejectsCode(t, store.patch(handle, { set: { ok: 1, [key]: v } }, { touch: true }), code, `patch set beside a good value ${what}`)
  await rejectsCode(
    t,
    store.create({ handle: rotationTarget(handle), userId: null, data: { [key]: v }, idleTtlMs: 60_000, absoluteTtlMs: 600_000, userAgent: null, ip: null }),
    code,
    `create ${what}`
  )
}

/** The 'values' cases. Depth, numbers, text, indexed length, userAgent. */
export const valueTests: Cases = (t, setup) => {
  t.test(`nesting: ${MAX_VALUE_DEPTH} levels are stored and read back, one more is validation_failed, however deep`, async (t) => {
    const { store, create, snapshot } = await setup()
    const { handle } = await create({ data: { kept: 1 } })
    const before = await snapshot(handle)
    for (const depth of [MAX_VALUE_DEPTH + 1, 5000, 100_000]) await refusedEverywhere(t, store, handle, nested(depth), 'validation_failed', `${depth} deep`)
    const objects = JSON.parse(`${'{"a":'.repeat(MAX_VALUE_DEPTH)}{}${'}'.repeat(MAX_VALUE_DEPTH)}`) as JsonValue
    await refusedEverywhere(t, store, handle, objects, 'validation_failed', `objects ${MAX_VALUE_DEPTH + 1} deep`)
    t.strictSame(await snapshot(handle), before, 'the session is exactly as before')
    t.equal((await store.countSessions()).total, 1, 'no failed create made a session')

    const deepest = nested(MAX_VALUE_DEPTH)
    t.equal(await store.setKey(handle, 'k', deepest, { touch: false }), 2, `${MAX_VALUE_DEPTH} deep via setKey`)
    t.strictSame(norm((await store.getKey(handle, 'k', { touch: true })).value), deepest, 'read back by getKey')
    t.strictSame(norm((await store.get(handle, { touch: true })).data['k']), deepest, 'and by get')
    const made = await create({ data: { k: deepest } })
    t.strictSame(norm(made.data['k']), deepest, `${MAX_VALUE_DEPTH} deep via create`)
  })

  t.test('numbers: not finite or beyond the safe integer range is validation_failed; the rest reads back exactly', async (t) => {
    const { store, create, snapshot } = await setup()
    const { handle } = await create({ data: { kept: 1 } })
    const before = await snapshot(handle)
    for (const n of [Infinity, -Infinity, NaN, 2 ** 53, -(2 ** 53), 1e300, Number.MAX_VALUE]) {
      await refusedEverywhere(t, store, handle, n, 'validation_failed', String(n))
      await refusedEverywhere(t, store, handle, { list: [1, n] }, 'validation_failed', `${n} inside`)
    }
    t.strictSame(await snapshot(handle), before, 'the session is exactly as before')
    const kept = [Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 0.1, 1.5e-300, Number.MIN_VALUE, -2.5]
    await store.setKey(handle, 'k', kept, { touch: false })
    t.strictSame((await store.getKey(handle, 'k', { touch: false })).value, kept, 'safe integers and fractions read back exactly')
  })

  t.test('what JSON cannot carry at all is validation_failed', async (t) => {
    const { store, create } = await setup()
    const { handle } = await create()
    // eslint-disable-next-line no-sparse-arrays
    const notJson: [string, unknown][] = [['undefined', undefined], ['a function', () => 1], ['a bigint', 1n], ['a Date', new Date(0)], ['a Map', new Map()], ['a hole', [1, , 3]], ['an undefined member', { a: undefined }]]
    for (const [what, value] of notJson) await refusedEverywhere(t, store, handle, value, 'validation_failed', what)
    t.equal((await store.get(handle, { touch: false })).version, 1, 'nothing was written')
  })

  t.test('text that is not valid UTF-16 (a lone surrogate) is validation_failed wherever the store takes text', async (t) => {
    const { store, create, snapshot } = await setup({ indexedKeys: ['tenant'] })
    const { handle } = await create({ userId: 'u1', data: { tenant: 'acme' } })
    const before = await snapshot(handle)
    for (const lone of ['\ud800', 'lone-\ud800-x', 'tail\ud83d', '\ude00head']) {
      const label = JSON.stringify(lone)
      await refusedEverywhere(t, store, handle, lone, 'validation_failed', label, 'tenant')
      await refusedEverywhere(t, store, handle, ['ok', { deep: lone }], 'validation_failed', `${label} inside`)
      await refusedEverywhere(t, store, handle, JSON.parse(`{${JSON.stringify(lone)}: 1}`), 'validation_failed', `${label} as a member name`)
      for (const field of ['userAgent', 'userId', 'ip'] as const) {
        await rejectsCode(t, create({ [field]: lone }), 'validation_failed', `create with ${field} ${label}`)
      }
      await rejectsCode(t, store.rotate(handle, rotationTarget(handle), { userId: lone }), 'validation_failed', `rotate to userId ${label}`)
      await rejectsCode(t, store.listUserSessions(lone), 'validation_failed', `listUserSessions ${label}`)
      await rejectsCode(t, store.revokeUserSessions(lone, {}), 'validation_failed', `revokeUserSessions ${label}`)
      await rejectsCode(t, store.listByIndex('tenant', lone, { limit: 10, cursor: null }), 'validation_failed', `listByIndex ${label}`)
      await rejectsCode(t, store.revokeByIndex('tenant', lone), 'validation_failed', `revokeByIndex ${label}`)
    }
    t.strictSame(await snapshot(handle), before, 'the session is exactly as before')
    t.equal((await store.countSessions()).total, 1, 'no failed create made a session')

    const paired = await create({ userId: 'u😀', userAgent: 'agent 😀', data: { tenant: 'emoji 😀', note: ['\ud83d\ude00'] } })
    t.equal(paired.userAgent, 'agent 😀', 'a surrogate pair is ordinary text')
    t.strictSame((await store.listByIndex('tenant', 'emoji 😀', { limit: 10, cursor: null })).sessions.map((s) => s.handle), [paired.handle], 'and is filed as itself')
    t.strictSame((await store.listUserSessions('u😀')).map((s) => s.handle), [paired.handle])
    t.strictSame(norm((await store.get(paired.handle, { touch: false })).data), { tenant: 'emoji 😀', note: ['😀'] })
  })

  t.test('a userAgent keeps its first 256 UTF-16 units, never half a surrogate pair', async (t) => {
    const { store, create } = await setup()
    const cases: [string, string, string][] = [
      ['a pair that does not fit is dropped whole', `${'a'.repeat(255)}😀tail`, 'a'.repeat(255)],
      ['a pair that fits is kept', `${'a'.repeat(254)}😀tail`, `${'a'.repeat(254)}😀`],
      ['plain text is cut at 256', 'x'.repeat(300), 'x'.repeat(256)],
      ['what is cut away is not judged', `${'a'.repeat(256)}\ud800`, 'a'.repeat(256)],
      ['256 units are kept whole', 'é'.repeat(256), 'é'.repeat(256)]
    ]
    for (const [what, userAgent, kept] of cases) {
      const made = await create({ userAgent })
      t.equal(made.userAgent, kept, `${what}: create answers it`)
      t.equal((await store.get(made.handle, { touch: false })).userAgent, kept, `${what}: get reads it`)
    }
  })

  t.test(`an indexed value is at most ${MAX_INDEX_VALUE_BYTES} bytes: filed at the bound, payload_too_large past it`, async (t) => {
    const { store, create, snapshot } = await setup({ indexedKeys: ['tenant', 'tags[]'] })
    const atBound = 'é'.repeat(MAX_INDEX_VALUE_BYTES / 2)
    const filed = await create({ data: { tenant: atBound } })
    const ascii = await create({ data: { tenant: 'x'.repeat(MAX_INDEX_VALUE_BYTES) } })
    t.strictSame((await store.listByIndex('tenant', atBound, { limit: 10, cursor: null })).sessions.map((s) => s.handle), [filed.handle], 'listed at the bound')
    t.strictSame(norm((await store.countSessions('tenant')).by), { [atBound]: 1, ['x'.repeat(MAX_INDEX_VALUE_BYTES)]: 1 }, 'counted at the bound')

    const before = await snapshot(ascii.handle)
    for (const over of [`${atBound}x`, 'é'.repeat(3000)]) {
      const what = `${Buffer.byteLength(over)} bytes`
      await refusedEverywhere(t, store, ascii.handle, over, 'payload_too_large', what, 'tenant')
      await rejectsCode(t, store.listByIndex('tenant', over, { limit: 10, cursor: null }), 'validation_failed', `listByIndex ${what}`)
      await rejectsCode(t, store.revokeByIndex('tenant', over), 'validation_failed', `revokeByIndex ${what}`)
    }
    t.strictSame(await snapshot(ascii.handle), before, 'the session is exactly as before')
    t.equal((await store.countSessions()).total, 2, 'no failed create made a session')
    t.equal(await store.setKey(ascii.handle, 'other', 'é'.repeat(3000), { touch: false }), 2, 'a key that is not indexed has no such bound')
    t.equal(await store.setKey(ascii.handle, 'tenant', ['é'.repeat(3000)], { touch: false }), 3, 'nor has a value that is not filed')
    await rejectsCode(t, store.setKey(ascii.handle, 'tags', ['ok', `${atBound}x`], { touch: false }), 'payload_too_large', 'an element of a collection entry past the bound')
    t.equal(await store.setKey(ascii.handle, 'tags', ['ok', atBound], { touch: false }), 4, 'an element at the bound is filed')
    t.strictSame((await store.listByIndex('tags[]', atBound, { limit: 10, cursor: null })).sessions.map((s) => s.handle), [ascii.handle], 'and listed')
    t.equal(await store.revokeByIndex('tenant', atBound), 1, 'revoked at the bound')
  })
}
