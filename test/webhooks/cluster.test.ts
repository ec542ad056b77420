/** The webhook delivery cases on a three-primary Redis Cluster: each shard's delivery state lives in its own slot. */
import t from 'tap'
import { startRedisCluster } from '../helpers/redis-server.js'
import { deliveryCases } from './cases.js'

const nodes = await startRedisCluster()
t.teardown(async () => {
  await Promise.allSettled(nodes.map((node) => node.stop()))
})
let apps = 0

deliveryCases(t, async () => ({
  STORE: 'redis',
  REDIS_CLUSTER_NODES: nodes.map((node) => `127.0.0.1:${node.port}`).join(','),
  REDIS_KEY_PREFIX: `hooks${apps++}:`,
  STORE_TIMEOUT_MS: '2000'
}))
