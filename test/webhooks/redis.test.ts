/** The webhook delivery cases on the Redis backend (one redis-server for the file, a key prefix per app), and a Redis outage mid-delivery. */
import t from 'tap'
import { createSession } from '../helpers/app.js'
import { startReceiver, until } from '../helpers/receiver.js'
import { startRedisServer } from '../helpers/redis-server.js'
import { deliveringApp, deliveryCases, type StoreEnv } from './cases.js'

const redis = await startRedisServer()
t.teardown(() => redis.stop())
let apps = 0
const storeEnv: StoreEnv = async () => ({ STORE: 'redis', REDIS_URL: redis.url, REDIS_KEY_PREFIX: `hooks${apps++}:`, STORE_TIMEOUT_MS: '1000' })

deliveryCases(t, storeEnv)

t.test('Redis not answering mid-delivery: the outage logged once, delivery resumed once it answers', async (t) => {
  const receiver = await startReceiver(t)
  const delivering = await deliveringApp(t, storeEnv, receiver)
  await createSession(delivering.app)
  await until(() => receiver.received.length === 1, 'a first delivery')
  redis.pause()
  await until(() => delivering.logs.some((l) => l.msg === 'store unreachable'), 'the outage logged')
  redis.resume()
  const { handle } = await createSession(delivering.app)
  await until(() => receiver.received.some((r) => r.event.handle === handle), 'a delivery after the outage')
  t.equal(delivering.logs.filter((l) => l.msg === 'store unreachable').length, 1, 'one outage line')
})
