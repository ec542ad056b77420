/**
 * A write answered 503 is never applied (spec §7), on a real redis-server
 * stopped with SIGSTOP while writes wait in its socket, directly and through
 * Sentinel. Every write, create, rotation and revocation sent to the stopped
 * server fails as store_unavailable, and after SIGCONT none of them has run;
 * writes whose deadline had not passed when the server woke are answered by
 * it, and each answer agrees with what the data shows.
 */
import t, { type Test } from 'tap'
import { AppError } from '../../src/errors.js'
import { createRedisStore } from '../../src/store/index.js'
import type { CreateSessionInput, RedisConnection, SessionData, Store } from '../../src/store/types.js'
import { newTokenInShard, shardOf } from '../../src/tokens.js'
import { sleep, until } from '../ops/http.js'
import { startRedisServer, startSentinel } from '../helpers/redis-server.js'
import { DEFAULT_LIMITS, sessionInput } from '../helpers/store.js'

const TIMEOUT_MS = 400

const server = await startRedisServer()
const sentinel = await startSentinel(server)
const stores: Store[] = []
t.teardown(async () => {
  server.resume()
  await Promise.allSettled(stores.map((store) => store.close()))
  sentinel.stop()
  await server.stop()
})

const CONNECTIONS: Record<string, RedisConnection> = {
  single: { mode: 'single', url: server.url },
  sentinel: { mode: 'sentinel', sentinels: [{ host: '127.0.0.1', port: sentinel.port }], name: sentinel.name, username: undefined, password: undefined, tls: false }
}

let prefixes = 0
async function storeOn(connection: RedisConnection): Promise<Store> {
  const store = createRedisStore({
    limits: DEFAULT_LIMITS,
    indexedKeys: ['tenant'],
    touchIntervalMs: 0,
    connection,
    keyPrefix: `stall${prefixes++}:`,
    commandTimeoutMs: TIMEOUT_MS,
    waitReplicas: 0
  })
  stores.push(store)
  await store.ping()
  return store
}

const session = (data: SessionData, userId: string | null = null): CreateSessionInput => sessionInput({ data, userId })

const codeOf = (result: PromiseSettledResult<unknown>): string =>
  result.status === 'fulfilled' ? 'fulfilled' : result.reason instanceof AppError ? result.reason.code : String(result.reason)

/** Resolves once the store answers again after SIGCONT. */
async function answering(store: Store): Promise<boolean> {
  return until(() => store.ping().then(() => true, () => false), 30_000)
}

for (const [kind, connection] of Object.entries(CONNECTIONS)) {
  t.test(`${kind}: writes sent to a stopped Redis fail, and none of them runs when it wakes`, async (t: Test) => {
    const store = await storeOn(connection)
    const counter = await store.create(session({ n: 0, tenant: 'stall' }, 'owner'))
    const doomed = await store.create(session({ tenant: 'stall' }, 'doomed'))
    const mover = await store.create(session({ tenant: 'other' }, 'mover'))
    const rotated = newTokenInShard(shardOf(mover.handle)).handle
    const created = session({ tenant: 'stall' }, 'latecomer')

    server.pause()
    const first = [
      store.setKey(counter.handle, 'k0', 'written while stopped', { touch: false }),
      store.patch(counter.handle, { incr: { n: 1 } }, { touch: false }),
      store.destroy(doomed.handle),
      store.create(created)
    ]
    // Sent later, into the same socket, before the first timeout ends it.
    await sleep(TIMEOUT_MS / 2)
    const later = [
      store.setKey(counter.handle, 'k1', 'written later', { touch: false }),
      store.rotate(mover.handle, rotated, {}),
      store.revokeUserSessions('owner', {}),
      store.revokeByIndex('tenant', 'stall')
    ]
    const results = await Promise.allSettled([...first, ...later])
    t.same(results.map(codeOf), results.map(() => 'store_unavailable'), 'every write sent to the stopped server is store_unavailable')

    server.resume()
    t.ok(await answering(store), 'the store answers again after SIGCONT')
    // Anything still in the old socket has been read by now; run the checks on what Redis holds.
    await sleep(100)
    t.same((await store.get(counter.handle, { touch: false })).data, { n: 0, tenant: 'stall' }, 'no set and no increment answered 503 was applied')
    t.equal((await store.get(doomed.handle, { touch: false })).userId, 'doomed', 'the destroy answered 503 did not run')
    t.equal((await store.get(mover.handle, { touch: false })).handle, mover.handle, 'the rotation answered 503 did not run')
    await t.rejects(store.get(created.handle, { touch: false }), { code: 'session_not_found' }, 'the create answered 503 did not run')
    t.same(await store.countSessions('tenant'), { total: 3, by: { stall: 2, other: 1 }, without: 0 }, 'no revocation answered 503 ran')
  })

  t.test(`${kind}: a server that wakes before a write's deadline answers it, and the answer is the truth`, async (t: Test) => {
    const store = await storeOn(connection)
    const counter = await store.create(session({ n: 0 }))

    server.pause()
    const first = store.patch(counter.handle, { incr: { n: 1 } }, { touch: false })
    await sleep(TIMEOUT_MS / 2)
    const later = store.patch(counter.handle, { incr: { n: 10 } }, { touch: false })
    const [firstResult] = await Promise.allSettled([first])
    // The first write timed out; the later one's deadline is still ahead when the server wakes.
    server.resume()
    const [laterResult] = await Promise.allSettled([later])
    t.ok(await answering(store), 'the store answers again after SIGCONT')
    await sleep(100)

    const expected = (firstResult?.status === 'fulfilled' ? 1 : 0) + (laterResult?.status === 'fulfilled' ? 10 : 0)
    t.equal(codeOf(firstResult ?? { status: 'fulfilled', value: null }), 'store_unavailable', 'the write whose timeout passed is store_unavailable')
    t.equal((await store.get(counter.handle, { touch: false })).data.n, expected, `the counter holds exactly the increments answered as done (later: ${codeOf(laterResult ?? { status: 'fulfilled', value: null })})`)
  })
}
