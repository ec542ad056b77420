/**
 * The Store conformance suite against the Redis backend found through a
 * throwaway Sentinel that monitors a throwaway redis-server.
 */
import { spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { Redis } from 'ioredis'
import { createRedisStore } from '../../src/store/index.js'
import type { Store } from '../../src/store/types.js'
import { freePort, startRedisServer } from '../helpers/redis-server.js'
import { runStoreConformance } from './conformance/index.js'

const server = await startRedisServer()
const sentinelPort = await freePort()
const config = join(server.dir, 'sentinel.conf')
await writeFile(config, `port ${sentinelPort}\nbind 127.0.0.1\nsentinel monitor primary 127.0.0.1 ${server.port} 1\n`)
const sentinel = spawn('redis-server', [config, '--sentinel'], { stdio: 'ignore' })
const probe = new Redis({ port: sentinelPort, host: '127.0.0.1', maxRetriesPerRequest: 0, retryStrategy: () => 100 })
probe.on('error', () => undefined)
for (let i = 0; i < 100 && (await probe.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'primary').catch(() => null)) === null; i++) {
  await new Promise((resolve) => setTimeout(resolve, 100))
}
probe.disconnect()

const stores: Store[] = []
t.teardown(async () => {
  await Promise.allSettled(stores.map((store) => store.close()))
  sentinel.kill('SIGKILL')
  await server.stop()
})

let n = 0
runStoreConformance(t, async (options) => {
  const store = createRedisStore({
    ...options,
    connection: { mode: 'sentinel', sentinels: [{ host: '127.0.0.1', port: sentinelPort }], name: 'primary', username: undefined, password: undefined, tls: false },
    keyPrefix: `s${n++}:`,
    commandTimeoutMs: 2000,
    waitReplicas: 0
  })
  stores.push(store)
  await store.ping()
  return store
})
