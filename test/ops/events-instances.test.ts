/**
 * Two service processes on one Redis with EVENTS=true and no traffic after
 * the sessions are created: every expiry is announced within
 * EVENTS_EXPIRY_LAG of its expiresAt, once, though both instances sweep
 * (SPEC §2 "events").
 */
import t from 'tap'
import { startRedisServer } from '../helpers/redis-server.js'
import { startSessiond, type SessiondProcess } from '../helpers/sessiond-process.js'

interface EventJson {
  readonly type: string
  readonly handle: string
  readonly reason?: string
  readonly actor: string
  readonly time: string
}

const LAG_SEC = 1
const SESSIONS = 20

const redis = await startRedisServer()
t.teardown(() => redis.stop())
const env = { STORE: 'redis', REDIS_URL: redis.url, EVENTS: 'true', EVENTS_EXPIRY_LAG: String(LAG_SEC) }

async function call<T>(instance: SessiondProcess, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${instance.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${instance.adminKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`)
  return (await res.json()) as T
}

t.test('two instances, no traffic: each expiry announced once, within the lag', async (t) => {
  const [one, other] = await Promise.all([startSessiond(t, env), startSessiond(t, env)])
  if (one === undefined || other === undefined) throw new Error('two instances expected')
  const start = await call<{ nextCursor: string }>(one, 'GET', '/v1/events?after=now')
  const created = await Promise.all(
    Array.from({ length: SESSIONS }, (_, i) =>
      call<{ session: { handle: string; expiresAt: string } }>(i % 2 === 0 ? one : other, 'POST', '/v1/sessions', { idleTtl: 1 })
    )
  )
  const expiresAt = new Map(created.map(({ session }) => [session.handle, Date.parse(session.expiresAt)]))
  let ended: EventJson[] = []
  let cursor = start.nextCursor
  // Long-polled with a deadline well past the lag: the assertions are on what was announced and the times it carries.
  for (let polls = 0; polls < 30 && ended.length < SESSIONS; polls++) {
    const page = await call<{ events: EventJson[]; nextCursor: string }>(other, 'GET', `/v1/events?after=${cursor}&wait=1`)
    ended = [...ended, ...page.events.filter((e) => e.type === 'session.ended')]
    cursor = page.nextCursor
  }
  const more = await call<{ events: EventJson[] }>(one, 'GET', `/v1/events?after=${cursor}&wait=${2 * LAG_SEC}`)
  t.strictSame(more.events, [], 'nothing announced twice after the last one')
  t.equal(ended.length, SESSIONS, 'one ended event per session')
  t.strictSame(new Set(ended.map((e) => e.handle)), new Set(expiresAt.keys()), 'for each session')
  t.ok(ended.every((e) => e.reason === 'expired' && e.actor === 'system'), 'expired, by the system')
  const late = ended.filter((e) => Date.parse(e.time) > (expiresAt.get(e.handle) ?? 0) + LAG_SEC * 1000)
  t.strictSame(late, [], 'each announced within EVENTS_EXPIRY_LAG of its expiresAt')
})
