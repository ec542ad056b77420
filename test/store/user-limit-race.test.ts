/**
 * MAX_SESSIONS_PER_USER under concurrent logins, on both backends. On Redis
 * the eviction is a second step after the login's script, so concurrent
 * logins each see the others; none may end a login bound after its own
 * (regression: two concurrent logins at a limit of 1 used to end each other,
 * leaving the user with no session although both logins succeeded).
 */
import t from 'tap'
import { createMemoryStore } from '../../src/store/index.js'
import { createRedisStore } from '../../src/store/index.js'
import type { SessionRecord, Store, StoreOptions } from '../../src/store/types.js'
import { handleOf, newToken } from '../../src/tokens.js'
import { startRedisServer } from '../helpers/redis-server.js'
import { fakeClock } from '../helpers/clock.js'
import { DEFAULT_LIMITS } from '../helpers/store.js'

const server = await startRedisServer()
const stores: Store[] = []
t.teardown(async () => {
  await Promise.allSettled(stores.map((store) => store.close()))
  await server.stop()
})

let prefixes = 0
function makeStore(backend: 'memory' | 'redis', options: StoreOptions): Store {
  const store =
    backend === 'memory'
      ? createMemoryStore(options)
      : createRedisStore({ ...options, connection: { mode: 'single', url: server.url }, keyPrefix: `race${prefixes++}:`, commandTimeoutMs: 5_000, waitReplicas: 0 })
  stores.push(store)
  return store
}

for (const backend of ['memory', 'redis'] as const) {
  for (const { max, logins } of [{ max: 1, logins: 2 }, { max: 2, logins: 5 }]) {
    t.test(`${backend}: ${logins} concurrent logins at a limit of ${max} leave exactly ${max} of them`, async (t) => {
      const clock = fakeClock()
      const store = makeStore(backend, { limits: { ...DEFAULT_LIMITS, maxSessionsPerUser: max }, indexedKeys: [], touchIntervalMs: 0, clock: clock.now })
      const login = (): Promise<SessionRecord> =>
        store.create({ handle: handleOf(newToken()), userId: 'u', data: {}, idleTtlMs: 600_000, absoluteTtlMs: 3_600_000, userAgent: null, ip: null })
      for (let round = 0; round < 10; round++) {
        const old = await Promise.all(Array.from({ length: max }, () => login()))
        clock.advance(1_000)
        const fresh = await Promise.all(Array.from({ length: logins }, () => login()))
        clock.advance(1_000)
        const listed = (await store.listUserSessions('u')).map((s) => s.handle)
        t.equal(listed.length, max, `round ${round}: the user has exactly ${max} sessions`)
        t.ok(listed.every((h) => fresh.some((s) => s.handle === h)), `round ${round}: all of them from the concurrent logins`)
        t.notOk(listed.some((h) => old.some((s) => s.handle === h)), `round ${round}: the older sessions were ended`)
        await store.revokeUserSessions('u', {})
      }
    })
  }
}
