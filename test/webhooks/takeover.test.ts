/**
 * Two deliverers on one store's delivery state, as two instances share it
 * (here the memory backend's): once their leases have settled at half the
 * shards each, each event is delivered once, by whichever holds its shard,
 * and both deliver; a holder past its fair share gives up only shards with
 * no POST unanswered, so the one that takes them sends nothing twice, each
 * session still in order; when the holder stops
 * with POSTs unanswered, the other takes its shards over and delivers what
 * it left.
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
import { SHARDS, newTokenInShard } from '../../src/tokens.js'
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
    lease: (consumer: string, ms: number, busy?: readonly number[]) => (faults.failing ? fail() : deliveries.lease(consumer, ms, busy)),
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

function deliverer(t: Test, deliveries: Deliveries, config: Config, failures: unknown[] = [], registry = new Registry()): Deliverer {
  if (config.webhook === null) throw new Error('no webhook')
  const d = createDeliverer({
    deliveries,
    webhook: config.webhook,
    clock: Date.now,
    log: pino({ level: 'silent' }),
    metrics: webhookMetrics(registry, deliveries, Date.now),
    storeFailed: (err) => failures.push(err)
  })
  t.teardown(() => d.stop())
  return d
}

/** How many events the deliverer counting into the registry delivered. */
async function deliveredBy(registry: Registry): Promise<number> {
  const counter = await registry.getSingleMetric('sessiond_webhook_deliveries_total')?.get()
  return counter?.values.find((value) => value.labels.outcome === 'delivered')?.value ?? 0
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

const deliveredIds = (receiver: Receiver): string[] => receiver.received.filter((r) => r.status === 204).map((r) => r.event.id)

t.test('two deliverers, their leases settled: each event delivered once, and both deliver', async (t) => {
  const receiver = await startReceiver(t)
  const { store, deliveries, config } = setUp(t, receiver)
  const registries = [new Registry(), new Registry()]
  await Promise.all(registries.map((registry) => deliverer(t, deliveries, config, [], registry).start()))
  // The first to lease takes every shard and gives half up at a renewal once it counts the other live; three renewals settle it.
  await sleep(4 * RENEW_MS)
  await Promise.all(Array.from({ length: 100 }, () => store.create(sessionInput())))
  await until(() => receiver.received.length >= 100, '100 deliveries')
  await sleep(3 * RENEW_MS)
  t.equal(receiver.received.length, 100, 'no event twice')
  t.equal(new Set(deliveredIds(receiver)).size, 100)
  const counts = await Promise.all(registries.map(deliveredBy))
  t.ok(counts.every((count) => count > 0), 'each deliverer delivered some', { counts })
  t.equal(counts.reduce((a, b) => a + b, 0), 100, 'between them, every event')
})

t.test('past the fair share a holder gives up only shards with no POST unanswered: the newcomer sends nothing twice, each session in order', async (t) => {
  const receiver = await startReceiver(t, () => 'hang')
  const { store, deliveries, config } = setUp(t, receiver)
  await deliverer(t, deliveries, config).start()
  // Sessions only in the upper half of the shards: the half a holder of all 64 gives up (planLease gives up its last idle ones).
  const handles = await Promise.all(
    Array.from({ length: 20 }, (_, i) => store.create(sessionInput({ handle: newTokenInShard(SHARDS[32 + (i % 32)] ?? '').handle })).then((record) => record.handle))
  )
  await Promise.all(handles.map((handle) => store.destroy(handle)))
  await until(() => receiver.open() === MAX_IN_FLIGHT, 'the first holder\'s POSTs open')
  await deliverer(t, deliveries, config).start()
  // Four renewals: the first counts the second live and gives up what it may; the second takes it. All within the 10 s a POST may hang.
  await sleep(4 * RENEW_MS)
  const sentWhileHanging = receiver.received.map((r) => r.event.id)
  t.equal(new Set(sentWhileHanging).size, sentWhileHanging.length, 'no event sent twice while the first holder\'s POSTs hang')
  t.ok(receiver.open() > MAX_IN_FLIGHT, 'the second sends from the idle shards the first gave up')
  receiver.answer = () => 204
  receiver.release(204)
  await until(() => new Set(deliveredIds(receiver)).size === 40, 'every event delivered')
  await sleep(2 * RENEW_MS)
  const sent = receiver.received.map((r) => r.event.id)
  t.equal(sent.length, 40, 'each of the 40 events POSTed once, though shards moved between holders')
  for (const handle of handles) {
    const types = receiver.received.filter((r) => r.event.handle === handle).map((r) => r.event.type)
    if (types.indexOf('session.created') > types.indexOf('session.ended')) t.fail(`${handle}: ${types.join()}`)
  }
  t.pass('each session created before it ended')
  await until(async () => (await deliveries.oldestUndelivered()) === null, 'nothing left')
})

t.test('a holder stopping with POSTs unanswered: the other delivers what it left', async (t) => {
  const receiver = await startReceiver(t, () => 'hang')
  const { store, deliveries, config } = setUp(t, receiver)
  const failures: unknown[] = []
  const first = deliverer(t, deliveries, config, failures)
  await first.start()
  await Promise.all(Array.from({ length: 40 }, () => store.create(sessionInput())))
  await until(() => receiver.open() === MAX_IN_FLIGHT, 'the first holder\'s POSTs open')
  // Started now and the first stopped at once, so that the first gives up no shard to its fair share with these POSTs open.
  await deliverer(t, deliveries, config, failures).start()
  const hung = new Set(receiver.received.map((r) => r.event.id))
  receiver.answer = () => 204
  await first.stop()
  await until(() => new Set(deliveredIds(receiver)).size === 40, 'every event delivered by the second')
  t.ok([...hung].every((id) => deliveredIds(receiver).includes(id)), 'the unanswered ones included')
  t.equal(deliveredIds(receiver).length, 40, 'each delivered once')
  // The receiver has answered before the deliverer's acknowledgement reaches the store: waited for, not read at once.
  await until(async () => (await deliveries.oldestUndelivered()) === null, 'every delivery acknowledged')
  t.strictSame(failures, [], 'no store failure')
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
