/**
 * Webhook delivery state (src/store/deliveries.ts): null without events;
 * prepare starts at the newest event, once; handOut gives each event once, in
 * id order; acknowledge takes events out of what is unacknowledged, which
 * another consumer re-takes in order, paged; leases exclusive while live,
 * renewed by their holder, free once expired or released, shared fairly
 * among the live consumers; the oldest
 * undelivered event; pending events the retention trimmed are forgotten.
 *
 * Leases run on the backend's clock (Redis PX on Redis's, memory on the
 * store's), so the expiry cases wait for real and advance the fake clock by
 * as much; every other lease is a minute long.
 */
import type { Test } from 'tap'
import type { Deliveries } from '../../../src/store/deliveries.js'
import { publicEvent, type LifecycleEvent, type StoredEvent } from '../../../src/store/events.js'
import type { Store } from '../../../src/store/types.js'
import { SHARDS, newTokenInShard } from '../../../src/tokens.js'
import { EVENT_RETENTION_MS, type Cases, type Fixture, type Setup } from './fixture.js'

/** Two shards the cases record in (on Cluster usually on different nodes). */
const SHARD = 5
const OTHER_SHARD = 40
const ALL_SHARDS = SHARDS.map((_, shard) => shard)
/** A lease no case outlives. */
const LONG_LEASE_MS = 60_000
/** A lease a case waits out (outlive). */
const SHORT_LEASE_MS = 150

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

function deliveriesOf(store: Store): Deliveries {
  if (store.deliveries === null) throw new Error('a store with events has delivery state')
  return store.deliveries
}

/** Creates `n` sessions in the shard, one after another; resolves to their handles, in order. */
async function createIn(fixture: Fixture, shard: number, n: number): Promise<string[]> {
  const handles: string[] = []
  for (let i = 0; i < n; i++) {
    const { handle } = newTokenInShard(SHARDS[shard] ?? '')
    await fixture.create({ handle })
    handles.push(handle)
  }
  return handles
}

/** The sessions whose created events these are. */
const handlesOf = (events: readonly StoredEvent[]): string[] => events.map((event) => event.handle)

/** Every event the store still keeps in the shard, read from the oldest. */
async function keptIn(store: Store, shard: number): Promise<LifecycleEvent[]> {
  const events: LifecycleEvent[] = []
  let cursor: string | null = null
  for (;;) {
    const page = await store.readEvents(cursor, 1000)
    events.push(...page.events.filter((event) => event.id.endsWith(`-${SHARDS[shard] ?? ''}`)))
    cursor = page.nextCursor
    if (page.events.length === 0) return events
  }
}

/** Waits out a lease on both clocks: Redis's (real time) and the memory store's (the fixture's). */
async function outlive(fixture: Fixture, leaseMs: number): Promise<void> {
  await sleep(leaseMs * 2)
  fixture.clock.advance(leaseMs * 2)
}

/** Each consumer leases in turn, for `rounds` rounds; resolves to what each holds after the last. */
async function inTurns(deliveries: Deliveries, consumers: readonly string[], leaseMs: number, rounds: number): Promise<number[][]> {
  const held: number[][] = consumers.map(() => [])
  for (let round = 0; round < rounds; round++) {
    for (const [i, consumer] of consumers.entries()) held[i] = await deliveries.lease(consumer, leaseMs)
  }
  return held
}

/** The shards the consumers hold between them, in order; a shard held by two appears twice. */
const sharedOut = (held: readonly number[][]): number[] => held.flat().sort((a, b) => a - b)

/** A store with events and its delivery state prepared, where nothing waits yet. */
async function prepared(t: Test, setup: Setup): Promise<{ fixture: Fixture; deliveries: Deliveries }> {
  const fixture = await setup({ events: true })
  const deliveries = deliveriesOf(fixture.store)
  await deliveries.prepare()
  t.equal(await deliveries.oldestUndelivered(), null, 'prepared: nothing waits')
  return { fixture, deliveries }
}

export const deliveryTests: Cases = (t, setup) => {
  t.test('without events there is no delivery state', async (t) => {
    const { store } = await setup()
    t.equal(store.deliveries, null)
  })

  t.test('prepare starts at the newest event and, again, moves nothing', async (t) => {
    const fixture = await setup({ events: true })
    const deliveries = deliveriesOf(fixture.store)
    await createIn(fixture, SHARD, 2)
    await deliveries.prepare()
    t.equal(await deliveries.oldestUndelivered(), null, 'events before prepare do not wait')
    t.strictSame(await deliveries.handOut(SHARD, 'a', 10), [], 'nor are they handed out')
    const [later] = await createIn(fixture, SHARD, 1)
    await deliveries.prepare()
    t.strictSame(handlesOf(await deliveries.handOut(SHARD, 'a', 10)), [later], 'a second prepare kept the start: the event after the first is handed out')
    t.strictSame(await deliveries.handOut(OTHER_SHARD, 'a', 10), [], 'a shard without events has nothing')
  })

  t.test('a shard is a SHARDS position: any other number is a RangeError, whatever the count or ids', async (t) => {
    const { deliveries } = await prepared(t, setup)
    for (const shard of [-1, SHARDS.length, 1.5]) {
      await t.rejects(deliveries.handOut(shard, 'a', 0), RangeError, `handOut: no shard ${shard}`)
      await t.rejects(deliveries.unacknowledged(shard, 'a', null, 0), RangeError, `unacknowledged: no shard ${shard}`)
      await t.rejects(deliveries.acknowledge(shard, []), RangeError, `acknowledge: no shard ${shard}`)
    }
  })

  t.test('handOut gives each event once, in id order, whole, to whichever consumer asks first', async (t) => {
    const { fixture, deliveries } = await prepared(t, setup)
    const first = await createIn(fixture, SHARD, 2)
    fixture.clock.advance(5)
    const second = await createIn(fixture, SHARD, 2)
    t.strictSame(await deliveries.handOut(SHARD, 'a', 0), [], 'a count of 0 hands out nothing')
    const three = await deliveries.handOut(SHARD, 'a', 3)
    t.strictSame(handlesOf(three), [...first, ...second.slice(0, 1)], 'up to the count, in order')
    const kept = await keptIn(fixture.store, SHARD)
    t.strictSame(three.map((event) => publicEvent(SHARD, event)), kept.slice(0, 3), 'the events as the log holds them')
    t.strictSame(handlesOf(await deliveries.handOut(SHARD, 'b', 10)), second.slice(1), 'another consumer gets only what was never handed out')
    t.strictSame(await deliveries.handOut(SHARD, 'a', 10), [], 'then nothing')
    const [newer] = await createIn(fixture, SHARD, 1)
    t.strictSame(handlesOf(await deliveries.handOut(SHARD, 'a', 10)), [newer], 'and then only the newer event')
    t.strictSame(await deliveries.handOut(OTHER_SHARD, 'a', 10), [], 'other shards have nothing')
  })

  t.test('acknowledged events leave what is unacknowledged, and are not handed out again', async (t) => {
    const { fixture, deliveries } = await prepared(t, setup)
    await createIn(fixture, SHARD, 3)
    const events = await deliveries.handOut(SHARD, 'a', 10)
    t.equal(events.length, 3)
    const [e1, e2, e3] = events.map((event) => event.id)
    if (e1 === undefined || e2 === undefined || e3 === undefined) throw new Error('three events')
    t.strictSame(await deliveries.unacknowledged(SHARD, 'a', null, 10), events, 'all three are unacknowledged')
    await deliveries.acknowledge(SHARD, [e1, e3])
    t.strictSame((await deliveries.unacknowledged(SHARD, 'a', null, 10)).map((event) => event.id), [e2], 'the one left')
    await deliveries.acknowledge(SHARD, [])
    await deliveries.acknowledge(OTHER_SHARD, [e2])
    t.strictSame((await deliveries.unacknowledged(SHARD, 'a', null, 10)).map((event) => event.id), [e2], 'nothing, or another shard, acknowledges nothing')
    await deliveries.acknowledge(SHARD, [e1, e2])
    t.strictSame(await deliveries.unacknowledged(SHARD, 'a', null, 10), [], 'none left; acknowledging twice is harmless')
    t.strictSame(await deliveries.handOut(SHARD, 'a', 10), [], 'acknowledged events are not handed out again')
  })

  t.test('unacknowledged: what another consumer left, in order, paged by after and count', async (t) => {
    const { fixture, deliveries } = await prepared(t, setup)
    const handles = await createIn(fixture, SHARD, 5)
    t.equal((await deliveries.handOut(SHARD, 'gone', 10)).length, 5, 'a consumer took five and went away')
    t.strictSame(await deliveries.unacknowledged(SHARD, 'next', null, 0), [], 'a count of 0 re-takes nothing')
    const page1 = await deliveries.unacknowledged(SHARD, 'next', null, 2)
    t.strictSame(handlesOf(page1), handles.slice(0, 2), 'the first two')
    const page2 = await deliveries.unacknowledged(SHARD, 'next', page1.at(-1)?.id ?? null, 2)
    t.strictSame(handlesOf(page2), handles.slice(2, 4), 'after the second, the next two')
    const page3 = await deliveries.unacknowledged(SHARD, 'next', page2.at(-1)?.id ?? null, 2)
    t.strictSame(handlesOf(page3), handles.slice(4), 'fewer than the count: no more')
    t.strictSame(await deliveries.unacknowledged(SHARD, 'next', page3.at(-1)?.id ?? null, 2), [], 'after the last, nothing')
    const third = page2[0]
    if (third === undefined) throw new Error('a third event')
    await deliveries.acknowledge(SHARD, [third.id])
    t.strictSame(handlesOf(await deliveries.unacknowledged(SHARD, 'next', third.id, 10)), handles.slice(3), 'after an acknowledged id, those after it')
    const betweenSecondAndThird = { ms: third.id.ms, seq: third.id.seq - 1 }
    t.strictSame(handlesOf(await deliveries.unacknowledged(SHARD, 'other', betweenSecondAndThird, 10)), handles.slice(3), 'after is exclusive')
    t.strictSame(handlesOf(await deliveries.unacknowledged(SHARD, 'again', null, 10)), [...handles.slice(0, 2), ...handles.slice(3)], 're-taking does not acknowledge')
    t.strictSame(await deliveries.unacknowledged(OTHER_SHARD, 'next', null, 10), [], 'a shard with nothing handed out has none')
  })

  t.test('a single consumer holds every shard; a live lease is exclusive and renewed by its holder only', async (t) => {
    const { fixture, deliveries } = await prepared(t, setup)
    t.strictSame(await deliveries.lease('a', LONG_LEASE_MS), ALL_SHARDS, 'every shard is free and a is alone: a takes them all')
    t.strictSame(await deliveries.lease('a', SHORT_LEASE_MS), ALL_SHARDS, 'a renews them, shorter')
    t.strictSame(await deliveries.lease('a', LONG_LEASE_MS), ALL_SHARDS, 'and again, for a minute')
    await outlive(fixture, SHORT_LEASE_MS)
    t.strictSame(await deliveries.lease('b', LONG_LEASE_MS), [], 'past the short lease, the last renewal still holds: b gets none')
    await deliveries.release('b')
    t.strictSame(await deliveries.lease('a', LONG_LEASE_MS), ALL_SHARDS, 'releasing leases b does not hold frees none, and b is no longer counted live')
  })

  t.test('two consumers leasing in turns end up with half the shards each, none held by both', async (t) => {
    const { deliveries } = await prepared(t, setup)
    const held = await inTurns(deliveries, ['a', 'b'], LONG_LEASE_MS, 3)
    t.strictSame(held.map((shards) => shards.length), [32, 32], '32 each')
    t.strictSame(sharedOut(held), ALL_SHARDS, 'every shard held, by one of them')
  })

  t.test('a third consumer joining gets its fair share, taken from the others', async (t) => {
    const { deliveries } = await prepared(t, setup)
    await inTurns(deliveries, ['a', 'b'], LONG_LEASE_MS, 3)
    const held = await inTurns(deliveries, ['a', 'b', 'c'], LONG_LEASE_MS, 3)
    const share = Math.ceil(64 / 3)
    t.ok(held.every((shards) => shards.length <= share && shards.length >= 64 - 2 * share), `each holds ${64 - 2 * share} to ${share}`, { held: held.map((shards) => shards.length) })
    t.ok((held[2]?.length ?? 0) > 0, 'the third among them')
    t.strictSame(sharedOut(held), ALL_SHARDS, 'every shard held, by one of them')
  })

  t.test('a consumer that stops renewing: once its leases and registration expire, the others take all its shards', async (t) => {
    const { fixture, deliveries } = await prepared(t, setup)
    await deliveries.lease('gone', SHORT_LEASE_MS)
    t.equal((await deliveries.lease('b', LONG_LEASE_MS)).length, 0, 'b registered while gone held every shard')
    t.equal((await deliveries.lease('gone', SHORT_LEASE_MS)).length, 32, 'gone gave up the half past its share')
    t.equal((await deliveries.lease('b', LONG_LEASE_MS)).length, 32, 'which b took')
    await outlive(fixture, SHORT_LEASE_MS)
    t.strictSame(await deliveries.lease('b', LONG_LEASE_MS), ALL_SHARDS, 'b alone live: it takes every shard')
  })

  t.test('an expired lease is taken by another consumer', async (t) => {
    const { fixture, deliveries } = await prepared(t, setup)
    t.strictSame(await deliveries.lease('a', SHORT_LEASE_MS), ALL_SHARDS)
    await outlive(fixture, SHORT_LEASE_MS)
    t.strictSame(await deliveries.lease('b', LONG_LEASE_MS), ALL_SHARDS, 'b takes every expired lease')
    t.strictSame(await deliveries.lease('a', LONG_LEASE_MS), [], 'and a has lost them')
  })

  t.test('a released lease is free at once', async (t) => {
    const { deliveries } = await prepared(t, setup)
    t.strictSame(await deliveries.lease('a', LONG_LEASE_MS), ALL_SHARDS)
    await deliveries.release('a')
    t.strictSame(await deliveries.lease('b', LONG_LEASE_MS), ALL_SHARDS, 'b takes them without waiting')
    t.strictSame(await deliveries.lease('a', LONG_LEASE_MS), [], 'a no longer holds any')
  })

  t.test('oldestUndelivered: the oldest event not handed out or not acknowledged', async (t) => {
    const { fixture, deliveries } = await prepared(t, setup)
    const firstAt = fixture.clock.now()
    await createIn(fixture, SHARD, 1)
    const laterAt = fixture.clock.advance(1000)
    await createIn(fixture, OTHER_SHARD, 1)
    t.equal(await deliveries.oldestUndelivered(), firstAt, 'not handed out: the older event')
    const [first] = await deliveries.handOut(SHARD, 'a', 10)
    if (first === undefined) throw new Error('the first event')
    t.equal(await deliveries.oldestUndelivered(), firstAt, 'handed out, not acknowledged: still the older')
    await deliveries.acknowledge(SHARD, [first.id])
    t.equal(await deliveries.oldestUndelivered(), laterAt, 'acknowledged: the other shard\'s')
    const [later] = await deliveries.handOut(OTHER_SHARD, 'a', 10)
    if (later === undefined) throw new Error('the later event')
    t.equal(await deliveries.oldestUndelivered(), laterAt, 'handed out in its turn')
    await deliveries.acknowledge(OTHER_SHARD, [later.id])
    t.equal(await deliveries.oldestUndelivered(), null, 'all acknowledged: nothing waits')
  })

  t.test('pending events the retention trimmed are left out, and forgotten', async (t) => {
    const { fixture, deliveries } = await prepared(t, setup)
    // The sweep trims; Redis whole stream nodes only (MINID ~, about 100 entries or 4 KB), so enough events to fill some.
    const old = 250
    await createIn(fixture, SHARD, old)
    t.equal((await deliveries.handOut(SHARD, 'gone', 1000)).length, old, 'all handed out, none acknowledged')
    const oldUntil = fixture.clock.now()
    const now = fixture.clock.advance(EVENT_RETENTION_MS + 1000)
    await createIn(fixture, SHARD, 1)
    await fixture.store.sweepExpired()
    const kept = (await keptIn(fixture.store, SHARD)).filter((event) => event.time <= oldUntil)
    t.ok(kept.length < old, `the retention trimmed ${old - kept.length} of the ${old} pending events`)
    const left = await deliveries.unacknowledged(SHARD, 'next', null, 1000)
    t.strictSame(left.map((event) => publicEvent(SHARD, event)), kept, 'exactly those still kept are unacknowledged')
    t.equal(await deliveries.oldestUndelivered(), kept[0]?.time ?? now, 'and the oldest waiting is the oldest kept')
    await deliveries.acknowledge(SHARD, left.map((event) => event.id))
    t.strictSame(await deliveries.unacknowledged(SHARD, 'next', null, 1000), [], 'once those are acknowledged, none is left')
    t.equal(await deliveries.oldestUndelivered(), now, 'only the new event waits')
  })
}
