/**
 * The Store conformance suite against the Redis backend found through a
 * throwaway Sentinel that monitors a throwaway redis-server.
 */
import t from 'tap'
import { createRedisStore } from '../../src/store/index.js'
import type { Store } from '../../src/store/types.js'
import { startRedisServer, startSentinel } from '../helpers/redis-server.js'
import { runStoreConformance } from './conformance/index.js'

const server = await startRedisServer()
const sentinel = await startSentinel(server)

const stores: Store[] = []
t.teardown(async () => {
  await Promise.allSettled(stores.map((store) => store.close()))
  sentinel.stop()
  await server.stop()
})

let n = 0
runStoreConformance(t, async (options) => {
  const store = createRedisStore({
    ...options,
    connection: { mode: 'sentinel', sentinels: [{ host: '127.0.0.1', port: sentinel.port }], name: sentinel.name, username: undefined, password: undefined, tls: false },
    keyPrefix: `s${n++}:`,
    commandTimeoutMs: 2000,
    waitReplicas: 0
  })
  stores.push(store)
  await store.ping()
  return store
})
