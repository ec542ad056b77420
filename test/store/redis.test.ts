/**
 * The Store conformance suite against the Redis backend on a throwaway
 * redis-server (never the machine's own on 6379). Every store gets its own
 * key prefix, so each case sees an empty store.
 */
import t from 'tap'
import { createRedisStore } from '../../src/store/index.js'
import type { Store } from '../../src/store/types.js'
import { startRedisServer } from '../helpers/redis-server.js'
import { runStoreConformance } from './conformance/index.js'

const server = await startRedisServer()
const stores: Store[] = []
t.teardown(async () => {
  await Promise.allSettled(stores.map((store) => store.close()))
  await server.stop()
})

let n = 0
runStoreConformance(t, async (options) => {
  const store = createRedisStore({
    ...options,
    connection: { mode: 'single', url: server.url },
    keyPrefix: `c${n++}:`,
    commandTimeoutMs: 2000,
    waitReplicas: 0
  })
  stores.push(store)
  return store
})
