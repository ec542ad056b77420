/**
 * Two service processes on one redis-server delivering to one receiver
 * (SPEC §2 "webhooks"): once their leases have settled at half the shards
 * each, with a healthy receiver each event is delivered exactly once,
 * whichever instance recorded it, and both instances deliver; an instance
 * SIGKILLed while its POSTs are unanswered leaves them to the other, which
 * delivers them.
 *
 * Settled first so that both instances hold shards when the events are
 * recorded (a holder gives up only idle shards, so moving them sends
 * nothing twice either: test/webhooks/takeover.test.ts).
 */
import t, { type Test } from 'tap'
import { startRedisServer } from '../helpers/redis-server.js'
import { startReceiver, until, type Receiver } from '../helpers/receiver.js'
import { startSessiond, type SessiondProcess } from '../helpers/sessiond-process.js'
import { MAX_IN_FLIGHT, RENEW_MS } from '../../src/webhooks/deliverer.js'
import { SECRET } from './cases.js'

const redis = await startRedisServer()
t.teardown(() => redis.stop())

const SESSIONS = 40

const instanceEnv = (receiver: Receiver, prefix: string) => ({
  STORE: 'redis',
  REDIS_URL: redis.url,
  REDIS_KEY_PREFIX: prefix,
  EVENTS: 'true',
  WEBHOOK_URL: receiver.url,
  WEBHOOK_SECRET: SECRET
})

async function call<T>(instance: SessiondProcess, method: string, path: string, body?: unknown): Promise<T | null> {
  const res = await fetch(`${instance.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${instance.adminKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`)
  return res.status === 204 ? null : ((await res.json()) as T)
}

/** Creates a session on `instance` and returns its handle. */
async function create(instance: SessiondProcess): Promise<string> {
  const created = await call<{ session: { handle: string } }>(instance, 'POST', '/v1/sessions', {})
  if (created === null) throw new Error('no session')
  return created.session.handle
}

/** How many events the instance delivered, by its own metric. */
async function deliveredBy(instance: SessiondProcess): Promise<number> {
  const metrics = await (await fetch(`${instance.url}/metrics`)).text()
  return Number(/^sessiond_webhook_deliveries_total\{outcome="delivered"\} (\d+)/m.exec(metrics)?.[1] ?? 0)
}

/** Two instances started together, once the first to lease every shard has given the other half (three renewals). */
async function settledPair(t: Test, env: Record<string, string>): Promise<SessiondProcess[]> {
  const instances = await Promise.all([startSessiond(t, env), startSessiond(t, env)])
  await new Promise((resolve) => setTimeout(resolve, 4 * RENEW_MS))
  return instances
}

const deliveredIds = (receiver: Receiver): string[] => receiver.received.filter((r) => r.status !== null && r.status < 300).map((r) => r.event.id)

t.test('two instances, a healthy receiver: each event delivered exactly once, by both, each session in order', { timeout: 120_000 }, async (t) => {
  const receiver = await startReceiver(t)
  const [one, other] = await settledPair(t, instanceEnv(receiver, 'once:'))
  if (one === undefined || other === undefined) throw new Error('two instances')
  const handles = await Promise.all(Array.from({ length: SESSIONS }, (_, i) => create(i % 2 === 0 ? one : other)))
  await Promise.all(handles.map((handle, i) => call(i % 2 === 0 ? other : one, 'DELETE', `/v1/sessions/${handle}`)))
  await until(() => deliveredIds(receiver).length >= 2 * SESSIONS, `${2 * SESSIONS} deliveries`, 60_000)
  // Long enough for a second delivery by the other instance to show, had there been one.
  await new Promise((resolve) => setTimeout(resolve, 2_000))
  t.equal(receiver.received.length, 2 * SESSIONS, 'one request per event')
  t.equal(new Set(deliveredIds(receiver)).size, 2 * SESSIONS, 'each event once')
  for (const handle of handles) {
    const types = receiver.received.filter((r) => r.event.handle === handle).map((r) => r.event.type)
    if (types.join() !== 'session.created,session.ended') t.fail(`${handle}: ${types.join()}`)
  }
  t.pass('every session created, then ended')
  const counts = await Promise.all([one, other].map(deliveredBy))
  t.ok(counts.every((count) => count > 0), 'both instances delivered some', { counts })
  t.equal(counts.reduce((a, b) => a + b, 0), 2 * SESSIONS, 'between them, every event')
})

t.test('an instance SIGKILLed with POSTs unanswered: the other delivers its events', { timeout: 120_000 }, async (t) => {
  const receiver = await startReceiver(t, () => 'hang')
  const [killed, survivor] = await settledPair(t, instanceEnv(receiver, 'killed:'))
  if (killed === undefined || survivor === undefined) throw new Error('two instances')
  // Enough sessions that each instance's shards have more than MAX_IN_FLIGHT events to send.
  const sessions = 4 * SESSIONS
  const handles = await Promise.all(Array.from({ length: sessions }, (_, i) => create(i % 2 === 0 ? killed : survivor)))
  await until(() => receiver.open() === 2 * MAX_IN_FLIGHT, `${MAX_IN_FLIGHT} POSTs open from each instance`)
  await killed.kill()
  await until(() => receiver.open() === MAX_IN_FLIGHT, 'the killed instance\'s POSTs closed')
  receiver.answer = () => 204
  receiver.release(204)
  // The killed instance's requests are the ones never answered.
  const unanswered = new Set(receiver.received.filter((r) => r.status === null).map((r) => r.event.id))
  t.equal(unanswered.size, MAX_IN_FLIGHT, 'the killed instance left its POSTs unanswered')
  await until(() => new Set(deliveredIds(receiver)).size === sessions, 'every event delivered by the instance left', 60_000)
  t.ok([...unanswered].every((id) => deliveredIds(receiver).includes(id)), 'the killed instance\'s unanswered events among them')
  t.strictSame(new Set(receiver.received.map((r) => r.event.handle)), new Set(handles), 'for every session')
  t.equal(deliveredIds(receiver).length, sessions, 'each delivered once')
  const later = await create(survivor)
  await until(() => receiver.received.some((r) => r.event.handle === later), 'an event recorded afterwards delivered too')
})
