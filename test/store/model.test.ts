/**
 * Memory and Redis answer alike: random sequences of Store operations
 * (fast-check) run against both, with hostile values among the ordinary ones
 * (deep nesting, numbers JSON cannot carry, lone surrogates, prototype-named
 * keys), and every answer, and every session afterwards, must be the same.
 *
 * Both stores read one fake clock. Redis also sets real key TTLs from it, so
 * every lifetime and every clock step is a whole number of minutes: a session
 * has either ended on the fake clock or has at least a minute of real TTL
 * left, far longer than a run takes, and nothing depends on real time.
 */
import { isDeepStrictEqual } from 'node:util'
import fc from 'fast-check'
import t from 'tap'
import { AppError } from '../../src/errors.js'
import { createMemoryStore, createRedisStore } from '../../src/store/index.js'
import type { JsonValue, SessionData, Store, StoreOptions } from '../../src/store/types.js'
import { fakeClock, type FakeClock } from '../helpers/clock.js'
import { startRedisServer } from '../helpers/redis-server.js'
import { newHandle, norm, rotationTarget } from './conformance/fixture.js'

const MINUTE = 60_000
const RUNS = 40
const MAX_STEPS = 40

const server = await startRedisServer()
t.teardown(() => server.stop())

// ------------------------------------------------------------ what operations are made of

const hostileText = fc.string({ unit: fc.constantFrom('a', 'é', '😀', '\ud83d', '\ude00', '\ud800', '\udfff', '"', '\\', '\u0000'), maxLength: 6 })
const text = fc.oneof(
  { arbitrary: fc.constantFrom('acme', 'beta', '', 'x', '😀'), weight: 6 },
  { arbitrary: fc.constantFrom(`${'a'.repeat(255)}😀tail`, 'é'.repeat(512), 'é'.repeat(513)), weight: 1 },
  { arbitrary: hostileText, weight: 2 }
)

/** Numbers JSON carries exactly, and those it cannot (not finite, beyond 2^53-1, -0). */
const number = fc.oneof(
  { arbitrary: fc.integer({ min: -3, max: 3 }), weight: 4 },
  { arbitrary: fc.double(), weight: 1 },
  { arbitrary: fc.constantFrom(Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 2 ** 53, -(2 ** 53), 1e21, Infinity, -Infinity, NaN, -0, 0.1), weight: 1 }
)

/** An array nested `depth` deep around 1. */
function nested(depth: number): JsonValue {
  let value: JsonValue = 1
  for (let i = 0; i < depth; i++) value = [value]
  return value
}

const memberName = fc.oneof({ arbitrary: fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'a'), weight: 4 }, { arbitrary: hostileText, weight: 1 })

/** Objects are built with Object.fromEntries, so that `__proto__` is an own member, as JSON.parse makes it. */
const value: fc.Arbitrary<JsonValue> = fc.letrec<{ value: JsonValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { arbitrary: fc.constant(null), weight: 1 },
    { arbitrary: fc.boolean(), weight: 1 },
    { arbitrary: number, weight: 4 },
    { arbitrary: text, weight: 4 },
    { arbitrary: fc.oneof(fc.integer({ min: 62, max: 66 }).map(nested), fc.constant(nested(5000))), weight: 1 },
    { arbitrary: fc.array(tie('value'), { maxLength: 3 }), weight: 2 },
    { arbitrary: fc.array(fc.tuple(memberName, tie('value')), { maxLength: 3 }).map((members) => Object.fromEntries(members) as JsonValue), weight: 2 }
  )
})).value

const dataKey = fc.oneof({ arbitrary: fc.constantFrom('tenant', 'n', 'a', '__proto__', 'constructor'), weight: 9 }, { arbitrary: fc.constant('bad key'), weight: 1 })
const userId = fc.oneof({ arbitrary: fc.constantFrom('u1', 'u2', 'u3'), weight: 9 }, { arbitrary: fc.constant('u\ud800'), weight: 1 })
const session = fc.nat(40)
/** The store's INDEXED_KEYS: a plain entry and a collection one (each element of the array under `a`). */
const indexEntry = fc.constantFrom('tenant', 'a[]')
const touch = fc.boolean()
const ifMatch = fc.oneof({ arbitrary: fc.constant(undefined), weight: 3 }, { arbitrary: fc.integer({ min: 1, max: 4 }), weight: 1 })
const entries = fc.array(fc.tuple(dataKey, value), { maxLength: 3 })
const incrBy = fc.oneof({ arbitrary: fc.integer({ min: -2, max: 2 }), weight: 4 }, { arbitrary: fc.constantFrom(Number.MAX_SAFE_INTEGER, 2 ** 53, 0.5), weight: 1 })

const weighted = <T>(weight: number, arbitrary: fc.Arbitrary<T>) => ({ arbitrary, weight })
const operation = fc.oneof(
  weighted(5, fc.record({ op: fc.constant('create'), user: fc.option(userId, { nil: null }), data: entries, userAgent: fc.option(text, { nil: null }), reuse: fc.oneof({ arbitrary: fc.constant(null), weight: 9 }, { arbitrary: session, weight: 1 }) })),
  weighted(2, fc.record({ op: fc.constant('get'), s: session, touch })),
  weighted(2, fc.record({ op: fc.constant('getKey'), s: session, key: dataKey, touch })),
  weighted(5, fc.record({ op: fc.constant('setKey'), s: session, key: dataKey, value, touch, ifMatch })),
  weighted(2, fc.record({ op: fc.constant('deleteKey'), s: session, key: dataKey, touch, ifMatch })),
  weighted(5, fc.record({ op: fc.constant('patch'), s: session, set: fc.array(fc.tuple(dataKey, value), { minLength: 1, maxLength: 2 }), del: fc.array(dataKey, { maxLength: 1 }), incr: fc.array(fc.tuple(dataKey, incrBy), { maxLength: 1 }), touch, ifMatch })),
  weighted(2, fc.record({ op: fc.constant('rotate'), s: session, user: fc.option(userId, { nil: undefined }) })),
  weighted(1, fc.record({ op: fc.constant('destroy'), s: session })),
  weighted(1, fc.record({ op: fc.constant('revokeUser'), user: userId, except: fc.option(session, { nil: null }) })),
  weighted(1, fc.record({ op: fc.constant('listUser'), user: userId })),
  weighted(2, fc.record({ op: fc.constant('listIndex'), entry: indexEntry, value: text, limit: fc.integer({ min: 1, max: 3 }) })),
  weighted(1, fc.record({ op: fc.constant('revokeIndex'), entry: indexEntry, value: text })),
  weighted(1, fc.record({ op: fc.constant('count'), by: fc.constantFrom('tenant', 'a[]', 'a', undefined) })),
  weighted(1, fc.record({ op: fc.constant('advance'), minutes: fc.constantFrom(1, 5, 10, 11, 31) }))
)

type Operation = typeof operation extends fc.Arbitrary<infer O> ? O : never

const dataOf = (pairs: readonly (readonly [string, JsonValue])[]): SessionData => Object.fromEntries<JsonValue>(pairs)

// ------------------------------------------------------------ running one operation on a store

/** What both stores are asked, with every random choice (handles included) already made. */
type Call = (store: Store) => Promise<unknown>

interface World {
  /** Every handle either store has handed out, in order; operations pick among them. */
  readonly handles: string[]
  readonly clock: FakeClock
}

/** A known handle, or (before any exists) one no store has seen. */
const pick = (world: World, s: number): string => world.handles[s % Math.max(world.handles.length, 1)] ?? newHandle()

/** Every page of a listing, so that paging is compared too. */
async function allPages(store: Store, entry: string, value: string, limit: number): Promise<unknown[]> {
  const pages: unknown[] = []
  let cursor: string | null = null
  do {
    const page = await store.listByIndex(entry, value, { limit, cursor })
    pages.push(page)
    cursor = page.nextCursor
  } while (cursor !== null && pages.length < 50)
  return pages
}

/** The call an operation makes on each store, and the handle it adds when it succeeds; a clock step happens here, once. */
function callOf(world: World, op: Operation): { call: Call; adds?: string } {
  const write = (o: { touch: boolean; ifMatch: number | undefined }) => (o.ifMatch === undefined ? { touch: o.touch } : { touch: o.touch, ifMatch: o.ifMatch })
  switch (op.op) {
    case 'create': {
      const handle = op.reuse === null ? newHandle() : pick(world, op.reuse)
      const input = { handle, userId: op.user, data: dataOf(op.data), idleTtlMs: 10 * MINUTE, absoluteTtlMs: 30 * MINUTE, userAgent: op.userAgent, ip: null }
      return { call: (store) => store.create(input), adds: handle }
    }
    case 'get': return { call: (store) => store.get(pick(world, op.s), { touch: op.touch }) }
    case 'getKey': return { call: (store) => store.getKey(pick(world, op.s), op.key, { touch: op.touch }) }
    case 'setKey': return { call: (store) => store.setKey(pick(world, op.s), op.key, op.value, write(op)) }
    case 'deleteKey': return { call: (store) => store.deleteKey(pick(world, op.s), op.key, write(op)) }
    case 'patch': {
      const ops = { set: dataOf(op.set), del: op.del, incr: Object.fromEntries(op.incr) }
      return { call: (store) => store.patch(pick(world, op.s), ops, write(op)) }
    }
    case 'rotate': {
      const handle = pick(world, op.s)
      const target = rotationTarget(handle)
      return { call: (store) => store.rotate(handle, target, op.user === undefined ? {} : { userId: op.user }), adds: target }
    }
    case 'destroy': return { call: (store) => store.destroy(pick(world, op.s)) }
    case 'revokeUser': {
      const options = op.except === null ? {} : { exceptHandle: pick(world, op.except) }
      return { call: (store) => store.revokeUserSessions(op.user, options) }
    }
    case 'listUser': return { call: (store) => store.listUserSessions(op.user) }
    case 'listIndex': return { call: (store) => allPages(store, op.entry, op.value, op.limit) }
    case 'revokeIndex': return { call: (store) => store.revokeByIndex(op.entry, op.value) }
    case 'count': return { call: (store) => store.countSessions(op.by) }
    case 'advance': {
      // Once for both stores: they share the clock.
      const now = world.clock.advance(op.minutes * MINUTE)
      return { call: () => Promise.resolve(now) }
    }
  }
}

/** An answer as plain JSON, or the code of the AppError it was; anything else is a bug in itself. */
async function answerOf(call: Promise<unknown>): Promise<unknown> {
  try {
    return { ok: norm(await call) }
  } catch (err) {
    if (err instanceof AppError) return { error: err.code }
    throw new Error(`not an AppError: ${String(err)}`, { cause: err })
  }
}

/** Every known session as each store holds it (read without touching), and the live count. */
async function stateOf(store: Store, world: World): Promise<unknown> {
  const sessions = await Promise.all(world.handles.map((handle) => answerOf(store.get(handle, { touch: false }))))
  return { sessions, counts: await answerOf(store.countSessions('tenant')) }
}

const shown = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'string' && x.length > 40 ? `${x.slice(0, 40)}…(${x.length})` : x))

// ------------------------------------------------------------ the property

let prefixes = 0

t.test('memory and Redis give the same answer to every step of random operation sequences', async (t) => {
  let steps = 0
  await fc.assert(
    fc.asyncProperty(fc.array(operation, { minLength: 10, maxLength: MAX_STEPS, size: 'max' }), async (ops) => {
      const clock = fakeClock()
      const options: StoreOptions = {
        limits: { maxValueBytes: 512, maxKeys: 4, maxSessionBytes: 1024, maxSessionsPerUser: 2, maxIndexValues: 2 },
        indexedKeys: ['tenant', 'a[]'],
        touchIntervalMs: 0,
        clock: clock.now
      }
      const memory = createMemoryStore(options)
      const redis = createRedisStore({ ...options, connection: { mode: 'single', url: server.url }, keyPrefix: `m${prefixes++}:`, commandTimeoutMs: 5000, waitReplicas: 0 })
      const world: World = { handles: [], clock }
      try {
        for (const [i, op] of ops.entries()) {
          const { call, adds } = callOf(world, op)
          const fromMemory = await answerOf(call(memory))
          const fromRedis = await answerOf(call(redis))
          if (!isDeepStrictEqual(fromMemory, fromRedis)) {
            throw new Error(`step ${i} ${shown(op)}: memory answered ${shown(fromMemory)}, Redis ${shown(fromRedis)}`)
          }
          if (adds !== undefined && 'ok' in (fromMemory as object) && !world.handles.includes(adds)) world.handles.push(adds)
          const [memoryState, redisState] = [await stateOf(memory, world), await stateOf(redis, world)]
          if (!isDeepStrictEqual(memoryState, redisState)) {
            throw new Error(`after step ${i} ${shown(op)}: memory holds ${shown(memoryState)}, Redis ${shown(redisState)}`)
          }
          steps++
        }
      } finally {
        await Promise.all([memory.close(), redis.close()])
      }
    }),
    { numRuns: RUNS }
  )
  t.ok(steps >= RUNS, `${RUNS} sequences, ${steps} steps, every answer and every session alike`)
})
