/**
 * The Store conformance suite against the Redis backend on a throwaway
 * three-primary Redis Cluster: every script must stay in one slot, and the
 * multi-shard operations run once per shard and merge.
 */
import t from 'tap'
import { createRedisStore } from '../../src/store/index.js'
import { handleOf, newToken } from '../../src/tokens.js'
import type { Store } from '../../src/store/types.js'
import { startRedisCluster } from '../helpers/redis-server.js'
import { runStoreConformance } from './conformance/index.js'

const nodes = await startRedisCluster()
const stores: Store[] = []
t.teardown(async () => {
  await Promise.allSettled(stores.map((store) => store.close()))
  await Promise.allSettled(nodes.map((node) => node.stop()))
})

let n = 0
runStoreConformance(t, async (options) => {
  const store = createRedisStore({
    ...options,
    connection: { mode: 'cluster', nodes: nodes.map((node) => ({ host: '127.0.0.1', port: node.port })), username: undefined, password: undefined, tls: false },
    keyPrefix: `k${n++}:`,
    commandTimeoutMs: 2000,
    waitReplicas: 0
  })
  stores.push(store)
  await store.ping()
  return store
})

t.test('waitReplicas on Cluster: WAIT reaches the primary that took the revocation', async (t) => {
  const store = createRedisStore({
    limits: { maxValueBytes: 1024, maxKeys: 16, maxSessionBytes: 4096, maxSessionsPerUser: null, maxIndexValues: 64 },
    indexedKeys: [],
    touchIntervalMs: 0,
    connection: { mode: 'cluster', nodes: nodes.map((node) => ({ host: '127.0.0.1', port: node.port })), username: undefined, password: undefined, tls: false },
    keyPrefix: 'wait:',
    commandTimeoutMs: 500,
    waitReplicas: 1
  })
  stores.push(store)
  await store.ping()
  const handle = handleOf(newToken())
  await store.create({ handle, userId: null, data: {}, idleTtlMs: 60_000, absoluteTtlMs: 600_000, userAgent: null, ip: null })
  await t.rejects(store.destroy(handle), { code: 'store_unavailable', message: /only 0 of 1 replicas/ }, 'no replica acknowledges')
})
