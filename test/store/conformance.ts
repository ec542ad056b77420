/**
 * The Store conformance suite: the executable form of src/store/types.ts.
 * Every backend's test file calls runStoreConformance with a factory that
 * builds an isolated store from the given options (memory: a new instance;
 * Redis: a unique key prefix) and closes it when the file ends.
 *
 * Every case builds its own store with a fake clock it controls, so expiry,
 * touch intervals and the rotation grace period are tested without waiting.
 * The fake clock stays at or ahead of real time and TTLs are minutes long, so
 * a Redis store that also sets real key TTLs never loses a key mid-case.
 */
import type { Test } from 'tap'
import { AppError } from '../../src/errors.js'
import {
  ROTATION_GRACE_MS,
  type CreateSessionInput,
  type JsonValue,
  type SessionData,
  type SessionMeta,
  type SessionRecord,
  type Store,
  type StoreLimits,
  type StoreOptions
} from '../../src/store/types.js'
import { handleOf, newToken, newTokenInShard, shardOf } from '../../src/tokens.js'
import { fakeClock, type FakeClock } from '../helpers/clock.js'
import { ABSOLUTE_MS, DEFAULT_LIMITS, IDLE_MS } from '../helpers/store.js'

export type MakeStore = (options: StoreOptions) => Promise<Store>

export interface FixtureOptions {
  readonly limits?: Partial<StoreLimits>
  readonly indexedKeys?: readonly string[]
  readonly touchIntervalMs?: number
}

export interface Fixture {
  readonly store: Store
  readonly clock: FakeClock
  /** Creates a session: anonymous, no data, IDLE_MS / ABSOLUTE_MS, unless overridden. */
  readonly create: (input?: Partial<CreateSessionInput>) => Promise<SessionRecord>
  /** The full record, read without touching, as plain JSON for exact comparison. */
  readonly snapshot: (handle: string) => Promise<unknown>
}

/** A fresh handle, as the HTTP layer derives it from a fresh token. */
export const newHandle = (): string => handleOf(newToken())

/** A rotation target in the same shard (one Cluster slot) as `handle`. */
export const rotationTarget = (handle: string): string => newTokenInShard(shardOf(handle)).handle

/** Plain JSON of a value: null-prototype maps become plain objects, own `__proto__` keys stay own keys. */
export function norm(value: unknown): unknown {
  return value === undefined ? undefined : (JSON.parse(JSON.stringify(value)) as unknown)
}

/** Data with own keys only, built so that `__proto__` is an ordinary key. */
export function dataOf(json: string): SessionData {
  return JSON.parse(json) as SessionData
}

const codeOf = (reason: unknown): string => (reason instanceof AppError ? reason.code : `non-AppError: ${String(reason)}`)

const sleepTick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/** Tries to mutate something a store returned; a frozen object refusing is fine too. */
function tryMutate(fn: () => void): void {
  try {
    fn()
  } catch {
    // frozen: also cannot share mutable state
  }
}

export function runStoreConformance(t: Test, makeStore: MakeStore): void {
  const setup = async (options: FixtureOptions = {}): Promise<Fixture> => {
    const clock = fakeClock()
    const store = await makeStore({
      limits: { ...DEFAULT_LIMITS, ...options.limits },
      indexedKeys: options.indexedKeys ?? [],
      touchIntervalMs: options.touchIntervalMs ?? 0,
      clock: clock.now
    })
    return {
      store,
      clock,
      create: (input = {}) =>
        store.create({
          handle: newHandle(),
          userId: null,
          data: {},
          idleTtlMs: IDLE_MS,
          absoluteTtlMs: ABSOLUTE_MS,
          userAgent: null,
          ip: null,
          ...input
        }),
      snapshot: async (handle) => norm(await store.get(handle, { touch: false }))
    }
  }

  /** Asserts that `p` rejects with an AppError carrying `code`. */
  const rejectsCode = async (t: Test, p: Promise<unknown>, code: string, what: string): Promise<void> => {
    await t.rejects(p, { name: 'AppError', code }, `${what} → ${code}`)
  }

  const notFound = (t: Test, p: Promise<unknown>, what: string): Promise<void> => rejectsCode(t, p, 'session_not_found', what)

  /** Every way of addressing a session: all must answer session_not_found for an ended one. */
  const assertGone = async (t: Test, store: Store, handle: string, what: string): Promise<void> => {
    await notFound(t, store.get(handle, { touch: false }), `${what}: get(touch:false)`)
    await notFound(t, store.get(handle, { touch: true }), `${what}: get(touch:true)`)
    await notFound(t, store.getKey(handle, 'a', { touch: true }), `${what}: getKey`)
    await notFound(t, store.setKey(handle, 'a', 1, { touch: true }), `${what}: setKey`)
    await notFound(t, store.deleteKey(handle, 'a', { touch: true }), `${what}: deleteKey`)
    await notFound(t, store.patch(handle, { set: { a: 1 } }, { touch: true }), `${what}: patch`)
    await notFound(t, store.rotate(handle, rotationTarget(handle), {}), `${what}: rotate`)
    t.equal(await store.destroy(handle), false, `${what}: destroy resolves false`)
    // none of the attempts above brought it back
    await notFound(t, store.get(handle, { touch: false }), `${what}: still gone after every attempt`)
  }

  const metaOf = (record: SessionRecord): unknown => {
    const meta = norm(record) as Record<string, unknown>
    delete meta['data']
    return meta
  }

  // ---------------------------------------------------------------- lifecycle
  t.test('lifecycle', async (t) => {
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
  })

  // ---------------------------------------------------------- data operations
  t.test('data operations', async (t) => {
    t.test('setKey, getKey and deleteKey; the version grows by one per changing write', async (t) => {
      const { store, create } = await setup()
      const { handle } = await create()
      const missing = await store.getKey(handle, 'a', { touch: false })
      t.equal(missing.value, undefined, 'a missing key reads as undefined')
      t.equal(missing.version, 1)
      t.equal(await store.setKey(handle, 'a', 1, { touch: false }), 2, 'set → 2')
      t.strictSame(norm(await store.getKey(handle, 'a', { touch: false })), { value: 1, version: 2 })
      t.equal(await store.setKey(handle, 'a', 1, { touch: false }), 3, 'a set of the same value still counts → 3')
      t.equal(await store.setKey(handle, 'b', 'x', { touch: true }), 4, 'set another key → 4')
      t.equal(await store.deleteKey(handle, 'a', { touch: false }), 5, 'delete of an existing key → 5')
      const gone = await store.getKey(handle, 'a', { touch: false })
      t.equal(gone.value, undefined, 'the deleted key reads as undefined')
      t.equal(gone.version, 5)
      t.equal(await store.deleteKey(handle, 'a', { touch: false }), 5, 'deleting it again is idempotent and keeps version 5')
      t.equal(await store.deleteKey(handle, 'never', { touch: true }), 5, 'deleting a key that never existed keeps version 5')
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
      const set = await store.patch(handle, { set: { n: 3 } }, { touch: false })
      t.equal(set.version, 4, 'a batch that sets a key to its current value still counts')
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
        ['huge', 1e21],
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
  })

  // ------------------------------------------------------------------ ifMatch
  t.test('ifMatch', async (t) => {
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
  })

  // --------------------------------------------------------------------- incr
  t.test('incr', async (t) => {
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
      t.equal(rec.version, 4, 'an increment by 0 is still a write')
      t.strictSame(norm(await store.getKey(handle, 'n', { touch: false })), { value: -2, version: 4 }, 'stored as a JSON number')
    })

    t.test('incrementing a non-integer is conflict and writes nothing', async (t) => {
      const { store, create, snapshot } = await setup()
      const bad: [string, JsonValue][] = [
        ['string', 'x'],
        ['numericString', '5'],
        ['float', 1.5],
        ['unsafe', 1e21],
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
  })

  // -------------------------------------------------------------------- batch
  t.test('batch', async (t) => {
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
  })

  // ------------------------------------------------------------------- limits
  t.test('limits', async (t) => {
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
  })

  // --------------------------------------------------------- prototype names
  t.test('prototype-named keys', async (t) => {
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
  })

  // ------------------------------------------------------------------- expiry
  t.test('expiry', async (t) => {
    t.test('an idle session ends after the idle TTL', async (t) => {
      const { store, create, clock } = await setup({ indexedKeys: ['tenant'] })
      const rec = await create({ userId: 'u1', data: { tenant: 'acme' } })
      clock.advance(IDLE_MS - 1)
      t.equal((await store.get(rec.handle, { touch: false })).handle, rec.handle, 'live 1 ms before expiresAt')
      clock.advance(1)
      await notFound(t, store.get(rec.handle, { touch: false }), 'gone at expiresAt')
      t.strictSame(await store.listUserSessions('u1'), [], 'not listed for its user')
      t.strictSame(norm(await store.countSessions('tenant')), { total: 0, by: {} }, 'not counted')
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
      t.strictSame(norm(await store.countSessions('tenant')), { total: 0, by: {} }, 'not counted')
      t.strictSame(norm(await store.listByIndex('tenant', 'acme', { limit: 10, cursor: null })), { sessions: [], nextCursor: null }, 'not listed by index')
      t.equal(await store.revokeUserSessions('u1', {}), 0, 'revoking its user ends nothing')
    })
  })

  // -------------------------------------------------------------- concurrency
  t.test('concurrency', async (t) => {
    const N = 20

    t.test('concurrent writes of different keys all land', async (t) => {
      const { store, create } = await setup()
      const { handle } = await create()
      const versions = await Promise.all(Array.from({ length: N }, (_, i) => store.setKey(handle, `k${i}`, i, { touch: true })))
      t.strictSame([...versions].sort((a, b) => a - b), Array.from({ length: N }, (_, i) => i + 2), 'each write got its own version')
      const rec = await store.get(handle, { touch: false })
      t.equal(rec.version, 1 + N, 'version = 1 + N')
      const expected: Record<string, number> = {}
      for (let i = 0; i < N; i++) expected[`k${i}`] = i
      t.strictSame(norm(rec.data), expected, 'every key is present')
    })

    t.test('read-modify-write with ifMatch and retry loses no update', async (t) => {
      const { store, create } = await setup()
      const { handle } = await create({ data: { counter: 0 } })
      const workers = 10
      let conflicts = 0
      const worker = async (): Promise<void> => {
        for (let attempt = 0; attempt < 1000; attempt++) {
          const read = await store.getKey(handle, 'counter', { touch: false })
          try {
            await store.setKey(handle, 'counter', (read.value as number) + 1, { touch: true, ifMatch: read.version })
            return
          } catch (err) {
            if (codeOf(err) !== 'precondition_failed') throw err
            conflicts++
            await sleepTick()
          }
        }
        throw new Error('no progress after 1000 attempts')
      }
      await Promise.all(Array.from({ length: workers }, worker))
      const rec = await store.get(handle, { touch: false })
      t.equal(rec.data['counter'], workers, `counter = ${workers} (after ${conflicts} retries)`)
      t.equal(rec.version, 1 + workers, 'one version per successful write')
    })

    t.test('concurrent increments lose no update', async (t) => {
      const { store, create } = await setup()
      const { handle } = await create()
      await Promise.all(Array.from({ length: N }, () => store.patch(handle, { incr: { n: 1 } }, { touch: true })))
      const rec = await store.get(handle, { touch: false })
      t.equal(rec.data['n'], N)
      t.equal(rec.version, 1 + N)
    })

    t.test('a use racing destroy never revives the session', async (t) => {
      const { store, create } = await setup({ indexedKeys: ['tenant'] })
      for (let round = 0; round < 10; round++) {
        const rec = await create({ userId: 'racer', data: { tenant: 'acme', a: 1 } })
        const ops: Promise<unknown>[] = [
          store.get(rec.handle, { touch: true }),
          store.getKey(rec.handle, 'a', { touch: true }),
          store.setKey(rec.handle, 'b', round, { touch: true }),
          store.patch(rec.handle, { set: { tenant: 'beta' }, incr: { n: 1 } }, { touch: true }),
          store.deleteKey(rec.handle, 'a', { touch: true })
        ]
        // destroy lands first, in the middle, or last
        ops.splice(round % (ops.length + 1), 0, store.destroy(rec.handle))
        const results = await Promise.allSettled(ops)
        for (const r of results) {
          if (r.status === 'rejected') t.equal(codeOf(r.reason), 'session_not_found', `round ${round}: a losing use fails with session_not_found`)
        }
        await notFound(t, store.get(rec.handle, { touch: false }), `round ${round}: gone after the race`)
      }
      t.strictSame(await store.listUserSessions('racer'), [], 'no half-revived session is listed for the user')
      t.strictSame(norm(await store.countSessions('tenant')), { total: 0, by: {} }, 'none is counted')
      for (const value of ['acme', 'beta']) {
        t.strictSame(norm(await store.listByIndex('tenant', value, { limit: 50, cursor: null })), { sessions: [], nextCursor: null }, `none is listed under ${value}`)
      }
    })
  })

  // ----------------------------------------------------------------- rotation
  t.test('rotation', async (t) => {
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
      t.strictSame(norm(await store.countSessions('tenant')), { total: 1, by: { acme: 1 } }, 'counted once')
      t.equal(await store.revokeByIndex('tenant', 'acme'), 1, 'revoking by index finds the rotated session')
      await notFound(t, store.get(target, { touch: false }), 'and ends it')
    })
  })

  // --------------------------------------------------------------- user index
  t.test('user index', async (t) => {
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
      t.strictSame(norm(await store.countSessions('tenant')), { total: 0, by: {} }, 'none counted')
      t.strictSame(norm(await store.listByIndex('tenant', 'acme', { limit: 50, cursor: null })), { sessions: [], nextCursor: null }, 'none listed by index')
      t.equal(await store.revokeUserSessions('many', {}), 0, 'none left to revoke')
      const fresh = await create({ userId: 'many', data: { tenant: 'acme' } })
      t.strictSame((await store.listUserSessions('many')).map((s) => s.handle), [fresh.handle], 'a new session is listed alone')
      t.strictSame(norm(await store.countSessions('tenant')), { total: 1, by: { acme: 1 } }, 'and counted alone')
    })

    t.test('an unknown user has no sessions', async (t) => {
      const { store } = await setup()
      t.strictSame(await store.listUserSessions('nobody'), [])
      t.equal(await store.revokeUserSessions('nobody', {}), 0)
    })
  })

  // ------------------------------------------------------- revokeUserSessions
  t.test('revokeUserSessions', async (t) => {
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
  })

  // -------------------------------------------------------- maxSessionsPerUser
  t.test('maxSessionsPerUser', async (t) => {
    t.test('a third login ends the least recently used session', async (t) => {
      const { store, create, clock } = await setup({ limits: { maxSessionsPerUser: 2 } })
      const a = await create({ userId: 'u1' })
      clock.advance(1000)
      const b = await create({ userId: 'u1' })
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
      const { store, create, clock } = await setup({ limits: { maxSessionsPerUser: 2 } })
      const a = await create({ userId: 'u1' })
      clock.advance(1000)
      const b = await create({ userId: 'u1' })
      const anon = await create()
      clock.advance(1000)
      const target = rotationTarget(anon.handle)
      await store.rotate(anon.handle, target, { userId: 'u1' })
      await notFound(t, store.get(a.handle, { touch: false }), 'a, the least recently used, was ended')
      t.strictSame((await store.listUserSessions('u1')).map((s) => s.handle).sort(), [target, b.handle].sort(), 'the rotated session and b remain')
    })

    t.test('rotating a session already bound to the user ends nothing', async (t) => {
      const { store, create, clock } = await setup({ limits: { maxSessionsPerUser: 2 } })
      const a = await create({ userId: 'u1' })
      clock.advance(1000)
      const b = await create({ userId: 'u1' })
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
  })

  // -------------------------------------------------------- secondary indexes
  t.test('secondary indexes', async (t) => {
    const indexed = { indexedKeys: ['tenant'] } as const

    /** Pages through a listing to the end; fails the test rather than looping forever. */
    const listAll = async (t: Test, store: Store, value: string, limit: number, between?: () => Promise<void>): Promise<SessionMeta[]> => {
      const all: SessionMeta[] = []
      let cursor: string | null = null
      for (let pages = 0; pages < 500; pages++) {
        const page = await store.listByIndex('tenant', value, { limit, cursor })
        t.ok(page.sessions.length <= limit, `a page holds at most ${limit}`)
        all.push(...page.sessions)
        if (page.nextCursor === null) return all
        cursor = page.nextCursor
        if (between !== undefined) await between()
      }
      t.fail('paging did not end')
      return all
    }

    t.test('listByIndex returns exactly the matching live sessions, ordered by handle', async (t) => {
      const { store, create } = await setup(indexed)
      const acme = await Promise.all(Array.from({ length: 5 }, (_, i) => create({ data: { tenant: 'acme', i } })))
      await create({ data: { tenant: 'Acme' } })
      await create({ data: { tenant: 'acme2' } })
      await create({ data: { tenant: 'acm' } })
      await create({ data: { other: 'acme' } })
      const odd = 'acme corp/東京 {x}=y:*'
      const special = await create({ data: { tenant: odd } })
      const empty = await create({ data: { tenant: '' } })
      const page = await store.listByIndex('tenant', 'acme', { limit: 100, cursor: null })
      t.equal(page.nextCursor, null, 'one page holds them all')
      t.strictSame(page.sessions.map((s) => s.handle), acme.map((s) => s.handle).sort(), 'exactly the acme sessions, by handle')
      t.strictSame(norm(page.sessions[0]), metaOf(await store.get(page.sessions[0]?.handle ?? '', { touch: false })), 'entries carry the session metadata')
      t.strictSame((await store.listByIndex('tenant', odd, { limit: 10, cursor: null })).sessions.map((s) => s.handle), [special.handle], 'a value with spaces, braces, = and non-ASCII matches itself')
      t.strictSame((await store.listByIndex('tenant', '', { limit: 10, cursor: null })).sessions.map((s) => s.handle), [empty.handle], 'the empty string matches itself')
      t.strictSame(norm(await store.listByIndex('tenant', 'nobody', { limit: 10, cursor: null })), { sessions: [], nextCursor: null }, 'an unknown value lists nothing')
    })

    t.test('paging returns every session exactly once and ends with a null cursor', async (t) => {
      const { store, create } = await setup(indexed)
      const made = await Promise.all(Array.from({ length: 50 }, () => create({ data: { tenant: 'acme' } })))
      await Promise.all(Array.from({ length: 10 }, () => create({ data: { tenant: 'beta' } })))
      const listed = await listAll(t, store, 'acme', 7)
      const handles = listed.map((s) => s.handle)
      t.strictSame(handles, made.map((s) => s.handle).sort(), 'every session once, in handle order')
    })

    t.test('paging stays stable while sessions are created and destroyed between pages', async (t) => {
      const { store, create } = await setup(indexed)
      const stable = await Promise.all(Array.from({ length: 50 }, () => create({ data: { tenant: 'acme' } })))
      const churn = await Promise.all(Array.from({ length: 20 }, () => create({ data: { tenant: 'acme' } })))
      const live = new Set(churn.map((s) => s.handle))
      const ended = new Set<string>()
      const seen = new Map<string, number>()
      let cursor: string | null = null
      let pages = 0
      do {
        const page = await store.listByIndex('tenant', 'acme', { limit: 6, cursor })
        for (const s of page.sessions) {
          seen.set(s.handle, (seen.get(s.handle) ?? 0) + 1)
          t.notOk(ended.has(s.handle), 'a session ended before the page was read is not on it')
        }
        cursor = page.nextCursor
        // churn: end two sessions, start three
        for (const handle of [...live].slice(0, 2)) {
          live.delete(handle)
          ended.add(handle)
          await store.destroy(handle)
        }
        for (const s of await Promise.all(Array.from({ length: 3 }, () => create({ data: { tenant: 'acme' } })))) live.add(s.handle)
        await store.setKey(stable[pages % stable.length]?.handle ?? '', 'touched', pages, { touch: true })
      } while (cursor !== null && ++pages < 500)
      t.equal(cursor, null, 'paging ended')
      const missing = stable.filter((s) => seen.get(s.handle) !== 1)
      t.strictSame(missing.map((s) => `${s.handle} seen ${seen.get(s.handle) ?? 0}×`), [], 'every session live throughout appears exactly once')
      const duplicates = [...seen].filter(([, n]) => n > 1)
      t.strictSame(duplicates, [], 'no session appears twice')
    })

    t.test('setKey, patch and deleteKey move a session between values', async (t) => {
      const { store, create } = await setup(indexed)
      const rec = await create({ data: { tenant: 'a' } })
      const where = async (): Promise<Record<string, number>> => (await store.countSessions('tenant')).by
      const listed = async (value: string): Promise<string[]> => (await store.listByIndex('tenant', value, { limit: 10, cursor: null })).sessions.map((s) => s.handle)
      t.strictSame(await listed('a'), [rec.handle], 'created under a')
      await store.setKey(rec.handle, 'tenant', 'b', { touch: false })
      t.strictSame(await listed('a'), [], 'setKey: gone from a')
      t.strictSame(await listed('b'), [rec.handle], 'setKey: listed under b')
      t.strictSame(norm(await where()), { b: 1 })
      await store.patch(rec.handle, { set: { tenant: 'c' } }, { touch: false })
      t.strictSame(await listed('b'), [], 'patch set: gone from b')
      t.strictSame(await listed('c'), [rec.handle], 'patch set: listed under c')
      await store.patch(rec.handle, { del: ['tenant'] }, { touch: false })
      t.strictSame(await listed('c'), [], 'patch del: gone from c')
      t.strictSame(norm(await where()), {}, 'patch del: counted under no value')
      await store.patch(rec.handle, { incr: { tenant: 7 } }, { touch: false })
      t.strictSame(await listed('7'), [rec.handle], 'patch incr: listed under 7')
      await store.patch(rec.handle, { incr: { tenant: 1 } }, { touch: false })
      t.strictSame(await listed('7'), [], 'patch incr again: gone from 7')
      t.strictSame(await listed('8'), [rec.handle], 'patch incr again: listed under 8')
      await store.deleteKey(rec.handle, 'tenant', { touch: false })
      t.strictSame(await listed('8'), [], 'deleteKey: gone from 8')
      t.strictSame(norm(await where()), {}, 'deleteKey: counted under no value')
      await store.setKey(rec.handle, 'tenant', 'd', { touch: false })
      t.strictSame(await listed('d'), [rec.handle], 'setKey after delete: listed under d')
      await store.destroy(rec.handle)
      t.strictSame(await listed('d'), [], 'destroy: gone from d')
    })

    t.test('numbers and booleans are indexed by their JSON text; null, arrays and objects are not', async (t) => {
      const { store, create } = await setup(indexed)
      const n42 = await create({ data: { tenant: 42 } })
      const s42 = await create({ data: { tenant: '42' } })
      const f = await create({ data: { tenant: 1.5 } })
      const yes = await create({ data: { tenant: true } })
      const no = await create({ data: { tenant: false } })
      await create({ data: { tenant: null } })
      await create({ data: { tenant: { id: 1 } } })
      await create({ data: { tenant: [1] } })
      await create({ data: { tenant: [] } })
      const listed = async (value: string): Promise<string[]> => (await store.listByIndex('tenant', value, { limit: 10, cursor: null })).sessions.map((s) => s.handle)
      t.strictSame(await listed('42'), [n42.handle, s42.handle].sort(), 'the number 42 and the string "42" both under 42')
      t.strictSame(await listed('1.5'), [f.handle])
      t.strictSame(await listed('true'), [yes.handle])
      t.strictSame(await listed('false'), [no.handle])
      for (const text of ['null', '{"id":1}', '[1]', '[]', '[object Object]', '1', '']) {
        t.strictSame(await listed(text), [], `nothing under ${JSON.stringify(text)}`)
      }
      t.strictSame(norm(await store.countSessions('tenant')), { total: 9, by: { '42': 2, '1.5': 1, true: 1, false: 1 } }, 'counts: every session in total, only indexable values by value')
    })

    t.test('a key that is not indexed is validation_failed', async (t) => {
      const { store, create } = await setup(indexed)
      await create({ data: { tenant: 'acme', plan: 'pro' } })
      await rejectsCode(t, store.listByIndex('plan', 'pro', { limit: 10, cursor: null }), 'validation_failed', 'listByIndex')
      await rejectsCode(t, store.revokeByIndex('plan', 'pro'), 'validation_failed', 'revokeByIndex')
      await rejectsCode(t, store.countSessions('plan'), 'validation_failed', 'countSessions')
      t.equal((await store.countSessions()).total, 1, 'nothing was revoked')
    })

    t.test('revokeByIndex ends exactly the matching live sessions', async (t) => {
      const { store, create, clock } = await setup(indexed)
      const acme = await Promise.all([create({ data: { tenant: 'acme' }, userId: 'u1' }), create({ data: { tenant: 'acme' } }), create({ data: { tenant: 'acme' } })])
      const expired = await create({ data: { tenant: 'acme' }, idleTtlMs: 60_000 })
      const beta = await Promise.all([create({ data: { tenant: 'beta' }, userId: 'u1' }), create({ data: { tenant: 'beta' } })])
      const none = await create({ data: { other: 'acme' } })
      clock.advance(60_000)
      t.equal(await store.revokeByIndex('tenant', 'acme'), 3, 'three live acme sessions ended (not the expired one)')
      for (const s of acme) await notFound(t, store.get(s.handle, { touch: false }), 'an acme session is gone')
      await notFound(t, store.get(expired.handle, { touch: false }), 'the expired one stays gone')
      for (const s of [...beta, none]) t.equal((await store.get(s.handle, { touch: false })).handle, s.handle, 'a non-acme session is live')
      t.strictSame((await store.listUserSessions('u1')).map((s) => s.handle), [beta[0].handle], 'the user listing lost the acme session only')
      t.strictSame(norm(await store.countSessions('tenant')), { total: 3, by: { beta: 2 } })
      t.equal(await store.revokeByIndex('tenant', 'acme'), 0, 'again: nothing left')
      t.equal(await store.revokeByIndex('tenant', 'nobody'), 0, 'an unknown value: nothing')
    })

    t.test('countSessions counts live sessions in total and by value', async (t) => {
      const { store, create, clock } = await setup(indexed)
      t.strictSame(norm(await store.countSessions('tenant')), { total: 0, by: {} }, 'an empty store')
      await Promise.all([create({ data: { tenant: 'acme' } }), create({ data: { tenant: 'acme' } }), create({ data: { tenant: 'acme' } })])
      const betas = await Promise.all([create({ data: { tenant: 'beta' } }), create({ data: { tenant: 'beta' } })])
      await create({ data: { tenant: 'gamma' }, idleTtlMs: 60_000 })
      await create({ idleTtlMs: 60_000 })
      await create({ userId: 'u1' })
      t.strictSame(norm(await store.countSessions('tenant')), { total: 8, by: { acme: 3, beta: 2, gamma: 1 } })
      const total = await store.countSessions()
      t.equal(total.total, 8, 'without byKey: the total')
      t.strictSame(norm(total.by), {}, 'without byKey: no values')
      await store.destroy(betas[0].handle)
      t.strictSame(norm(await store.countSessions('tenant')), { total: 7, by: { acme: 3, beta: 1, gamma: 1 } }, 'a destroyed session is not counted')
      await store.destroy(betas[1].handle)
      clock.advance(60_000)
      t.strictSame(norm(await store.countSessions('tenant')), { total: 4, by: { acme: 3 } }, 'expired sessions are not counted; values with none are left out')
    })
  })

  // ---------------------------------------------------------------- isolation
  t.test('no shared mutable state', async (t) => {
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
  })
}

