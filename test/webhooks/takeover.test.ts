/**
 * Two deliverers on one store's delivery state, as two instances share it
 * (here the memory backend's): each event is delivered once, by whichever
 * holds its shard; when the holder stops with POSTs unanswered, the other
 * takes its shards over and delivers what it left.
 */
import pino from 'pino'
import { Registry } from 'prom-client'
import t, { type Test } from 'tap'
import { loadConfig, type Config } from '../../src/config.js'
import { createStore } from '../../src/store/index.js'
import { AppError } from '../../src/errors.js'
import type { Deliveries } from '../../src/store/deliveries.js'
import type { EventId } from '../../src/store/events.js'
import type { Store } from '../../src/store/types.js'
import { createDeliverer, LEASE_MS, MAX_IN_FLIGHT, RENEW_MS, type Deliverer } from '../../src/webhooks/deliverer.js'
import { webhookMetrics } from '../../src/webhooks/metrics.js'
import { startReceiver, until, type Receiver } from '../helpers/receiver.js'
import { sessionInput } from '../helpers/store.js'
import { SECRET } from './cases.js'

/** The store's delivery state, failing every call with store_unavailable while `failing` is set. */
function faulty(deliveries: Deliveries): Deliveries & { failing: boolean } {
  const fail = async (): Promise<never> => {
    throw new AppError('store_unavailable', 'the test stopped answering')
  }
  const faults = {
    failing: false,
    prepare: () => (faults.failing ? fail() : deliveries.prepare()),
    lease: (consumer: string, ms: number) => (faults.failing ? fail() : deliveries.lease(consumer, ms)),
    unacknowledged: (shard: number, consumer: string, after: EventId | null, count: number) => (faults.failing ? fail() : deliveries.unacknowledged(shard, consumer, after, count)),
    handOut: (shard: number, consumer: string, count: number) => (faults.failing ? fail() : deliveries.handOut(shard, consumer, count)),
    acknowledge: (shard: number, ids: readonly EventId[]) => (faults.failing ? fail() : deliveries.acknowledge(shard, ids)),
    oldestUndelivered: () => (faults.failing ? fail() : deliveries.oldestUndelivered()),
    release: (consumer: string) => (faults.failing ? fail() : deliveries.release(consumer))
  }
  return faults
}

function setUp(t: Test, receiver: Receiver): { store: Store; deliveries: Deliveries; config: Config } {
  const config = loadConfig({ STORE: 'memory', EVENTS: 'true', WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: SECRET })
  const store = createStore(config)
  t.teardown(() => store.close())
  if (store.deliveries === null || config.webhook === null) throw new Error('no deliveries')
  return { store, deliveries: store.deliveries, config }
}

function deliverer(t: Test, deliveries: Deliveries, config: Config, failures: unknown[] = []): Deliverer {
  if (config.webhook === null) throw new Error('no webhook')
  const d = createDeliverer({
    deliveries,
    webhook: config.webhook,
    clock: Date.now,
    log: pino({ level: 'silent' }),
    metrics: webhookMetrics(new Registry(), deliveries, Date.now),
    storeFailed: (err) => failures.push(err)
  })
  t.teardown(() => d.stop())
  return d
}

const deliveredIds = (receiver: Receiver): string[] => receiver.received.filter((r) => r.status === 204).map((r) => r.event.id)

t.test('two deliverers: each event delivered once', async (t) => {
  const receiver = await startReceiver(t)
  const { store, deliveries, config } = setUp(t, receiver)
  await Promise.all([deliverer(t, deliveries, config).start(), deliverer(t, deliveries, config).start()])
  await Promise.all(Array.from({ length: 100 }, () => store.create(sessionInput())))
  await until(() => receiver.received.length >= 100, '100 deliveries')
  await new Promise((resolve) => setTimeout(resolve, 3 * RENEW_MS))
  t.equal(receiver.received.length, 100, 'no event twice')
  t.equal(new Set(deliveredIds(receiver)).size, 100)
})

t.test('a holder stopping with POSTs unanswered: the other delivers what it left', async (t) => {
  const receiver = await startReceiver(t, () => 'hang')
  const { store, deliveries, config } = setUp(t, receiver)
  const failures: unknown[] = []
  const first = deliverer(t, deliveries, config, failures)
  await first.start()
  const second = deliverer(t, deliveries, config, failures)
  await second.start()
  await Promise.all(Array.from({ length: 40 }, () => store.create(sessionInput())))
  await until(() => receiver.open() === MAX_IN_FLIGHT, 'the first holder\'s POSTs open')
  const hung = new Set(receiver.received.map((r) => r.event.id))
  receiver.answer = () => 204
  await first.stop()
  await until(() => new Set(deliveredIds(receiver)).size === 40, 'every event delivered by the second')
  t.ok([...hung].every((id) => deliveredIds(receiver).includes(id)), 'the unanswered ones included')
  t.equal(deliveredIds(receiver).length, 40, 'each delivered once')
  t.strictSame(failures, [], 'no store failure')
  t.equal(await deliveries.oldestUndelivered(), null, 'nothing left')
})

t.test('a store that stops answering mid-delivery: each failure reported, and every event delivered once it answers again', async (t) => {
  const receiver = await startReceiver(t, () => 'hang')
  const { store, deliveries, config } = setUp(t, receiver)
  const faults = faulty(deliveries)
  const failures: unknown[] = []
  await deliverer(t, faults, config, failures).start()
  await Promise.all(Array.from({ length: 3 }, () => store.create(sessionInput())))
  await until(() => receiver.open() === 3, 'three POSTs open')
  faults.failing = true
  receiver.answer = () => 204
  receiver.release(204)
  await Promise.all(Array.from({ length: 3 }, () => store.create(sessionInput())))
  // Longer than a lease: the deliverer gives its shards up, as another instance may hold them by now.
  await new Promise((resolve) => setTimeout(resolve, LEASE_MS))
  t.ok(failures.length > 0 && failures.every((err) => err instanceof AppError && err.code === 'store_unavailable'), 'the failures were reported')
  t.equal(receiver.received.length, 3, 'nothing new was sent while the store failed')
  const registry = new Registry()
  webhookMetrics(registry, faults, Date.now)
  const gauge = /^sessiond_webhook_oldest_undelivered_seconds \d/m
  t.notMatch(await registry.metrics(), gauge, 'the oldest-undelivered gauge is left out while the store fails')
  faults.failing = false
  t.match(await registry.metrics(), gauge, 'and back once it answers, with events waiting')
  await until(() => new Set(deliveredIds(receiver)).size === 6, 'all six events delivered')
  const twice = deliveredIds(receiver).filter((id, i, all) => all.indexOf(id) !== i)
  t.ok(twice.every((id) => receiver.received.slice(0, 3).some((r) => r.event.id === id)), 'only an event whose acknowledgement failed was sent again', { twice })
  await until(async () => (await deliveries.oldestUndelivered()) === null, 'nothing left')
})
