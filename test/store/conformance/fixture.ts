/**
 * What every part of the store suite shares: the fixture a case builds its
 * store with (`Setup`), the helpers that shape values for exact comparison,
 * and the assertions more than one part makes.
 */
import type { Test } from 'tap'
import { AppError } from '../../../src/errors.js'
import type { CreateSessionInput, SessionData, SessionRecord, Store, StoreLimits, StoreOptions } from '../../../src/store/types.js'
import { handleOf, newToken, newTokenInShard, shardOf } from '../../../src/tokens.js'
import { fakeClock, type FakeClock } from '../../helpers/clock.js'
import { DEFAULT_LIMITS, sessionInput } from '../../helpers/store.js'

/** Builds an isolated, empty store from `options`; the backend's test file closes it when the file ends. */
export type MakeStore = (options: StoreOptions) => Promise<Store>

export interface FixtureOptions {
  readonly limits?: Partial<StoreLimits>
  readonly indexedKeys?: readonly string[]
  readonly touchIntervalMs?: number
  /** Record lifecycle events, kept EVENT_RETENTION_MS; a case sweeps by calling sweepExpired. */
  readonly events?: boolean
}

/** The event retention of a fixture with events. */
export const EVENT_RETENTION_MS = 3_600_000

export interface Fixture {
  readonly store: Store
  readonly clock: FakeClock
  /** Creates a session: anonymous, no data, IDLE_MS / ABSOLUTE_MS, unless overridden. */
  readonly create: (input?: Partial<CreateSessionInput>) => Promise<SessionRecord>
  /** The full record, read without touching, as plain JSON for exact comparison. */
  readonly snapshot: (handle: string) => Promise<unknown>
}

/** A fresh store with its own fake clock, as each case builds it. */
export type Setup = (options?: FixtureOptions) => Promise<Fixture>

/** One part of the suite: registers its cases on `t`. */
export type Cases = (t: Test, setup: Setup) => void

/** The Setup of one backend. */
export function setupFor(makeStore: MakeStore): Setup {
  return async (options = {}) => {
    const clock = fakeClock()
    const store = await makeStore({
      limits: { ...DEFAULT_LIMITS, ...options.limits },
      indexedKeys: options.indexedKeys ?? [],
      touchIntervalMs: options.touchIntervalMs ?? 0,
      clock: clock.now,
      ...(options.events === true ? { events: { retentionMs: EVENT_RETENTION_MS } } : {})
    })
    return {
      store,
      clock,
      create: (input = {}) => store.create(sessionInput(input)),
      snapshot: async (handle) => norm(await store.get(handle, { touch: false }))
    }
  }
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

/** The record without its data, as plain JSON: what listings carry. */
export const metaOf = (record: SessionRecord): unknown => {
  const meta = norm(record) as Record<string, unknown>
  delete meta['data']
  return meta
}

export const codeOf = (reason: unknown): string => (reason instanceof AppError ? reason.code : `non-AppError: ${String(reason)}`)

/** Asserts that `p` rejects with an AppError carrying `code`. */
export const rejectsCode = async (t: Test, p: Promise<unknown>, code: string, what: string): Promise<void> => {
  await t.rejects(p, { name: 'AppError', code }, `${what} → ${code}`)
}

export const notFound = (t: Test, p: Promise<unknown>, what: string): Promise<void> => rejectsCode(t, p, 'session_not_found', what)

/** Every way of addressing a session: all must answer session_not_found for an ended one. */
export const assertGone = async (t: Test, store: Store, handle: string, what: string): Promise<void> => {
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
