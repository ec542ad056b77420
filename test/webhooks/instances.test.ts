/**
 * Two service processes on one redis-server delivering to one receiver
 * (SPEC §2 "webhooks"): with a healthy receiver each event is delivered
 * exactly once, whichever instance recorded it; an instance SIGKILLed while
 * its POSTs are unanswered leaves them to the other, which delivers them.
 */
import t from 'tap'
import { startRedisServer } from '../helpers/redis-server.js'
import { startReceiver, until, type Receiver } from '../helpers/receiver.js'
import { startSessiond, type SessiondProcess } from '../helpers/sessiond-process.js'
import { MAX_IN_FLIGHT } from '../../src/webhooks/deliverer.js'
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

const deliveredIds = (receiver: Receiver): string[] => receiver.received.filter((r) => r.status !== null && r.status < 300).map((r) => r.event.id)

t.test('two instances, a healthy receiver: each event delivered exactly once, each session in order', { timeout: 120_000 }, async (t) => {
  const receiver = await startReceiver(t)
  const env = instanceEnv(receiver, 'once:')
  const [one, other] = await Promise.all([startSessiond(t, env), startSessiond(t, env)])
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
})

t.test('an instance SIGKILLed with POSTs unanswered: the other delivers its events', { timeout: 120_000 }, async (t) => {
  const receiver = await startReceiver(t, () => 'hang')
  const env = instanceEnv(receiver, 'killed:')
  // Started first and alone, so that it leases every shard.
  const holder = await startSessiond(t, env)
  const handles = await Promise.all(Array.from({ length: SESSIONS }, () => create(holder)))
  await until(() => receiver.open() === MAX_IN_FLIGHT, `${MAX_IN_FLIGHT} POSTs open`)
  const standby = await startSessiond(t, env)
  const unanswered = new Set(receiver.received.map((r) => r.event.id))
  receiver.answer = () => 204
  await holder.kill()
  await until(() => new Set(deliveredIds(receiver)).size === SESSIONS, 'every event delivered by the instance left', 60_000)
  t.ok([...unanswered].every((id) => deliveredIds(receiver).includes(id)), 'the killed instance\'s unanswered events among them')
  t.strictSame(new Set(receiver.received.map((r) => r.event.handle)), new Set(handles), 'for every session')
  t.equal(deliveredIds(receiver).length, SESSIONS, 'each delivered once')
  const later = await create(standby)
  await until(() => receiver.received.some((r) => r.event.handle === later), 'an event recorded afterwards delivered too')
})
