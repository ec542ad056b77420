/**
 * Redis outages against the real app over HTTP and a real redis-server
 * (spec §7): killed, stopped (SIGSTOP) and paused (CLIENT PAUSE) while
 * traffic runs. Every store-backed request answers 503 store_unavailable
 * with Retry-After and none hangs; /readyz turns 503 and back while /healthz
 * stays 200; nothing queues up (a burst during the outage is all 503, and no
 * request answered 503 is carried out later); the same app recovers by itself.
 *
 * Durations are measured and printed as comments, never asserted: this runs
 * on loaded machines. Each request is bounded only by a generous outer
 * timeout, so a hang fails the status assertion instead of the test timing out.
 */
import { performance } from 'node:perf_hooks'
import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import { admin, service } from '../helpers/app.js'
import { startRedisServer } from '../helpers/redis-server.js'
import { isUnavailable, listening, summary, traffic, until, codeOf, type Client, type Reply, type RequestInit } from './http.js'

const STORE_TIMEOUT_MS = 1000

// AOF with fsync on every write, so that a killed Redis comes back with its data.
const server = await startRedisServer({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] })
t.teardown(() => server.stop())

let prefixes = 0
const env = (): Record<string, string> => ({
  STORE: 'redis',
  REDIS_URL: server.url,
  REDIS_KEY_PREFIX: `outage${prefixes++}:`,
  STORE_TIMEOUT_MS: String(STORE_TIMEOUT_MS),
  INDEXED_KEYS: 'tenant',
  ALLOW_ANONYMOUS: 'true',
  ANONYMOUS_RATE_LIMIT: '1000'
})

interface Created {
  readonly token: string
  readonly handle: string
}

async function create(t: Test, http: Client, body: Record<string, unknown>): Promise<Created> {
  const reply = await http('/v1/sessions', { method: 'POST', headers: service, body })
  t.equal(reply.status, 201, `create answers 201${reply.status === 201 ? '' : `: ${reply.body}`}`)
  const created = JSON.parse(reply.body) as { token: string; session: { handle: string } }
  return { token: created.token, handle: created.session.handle }
}

/** One request of every kind that needs the store, all aimed at `victim` (and its user). */
function storeBacked(victim: Created): [string, RequestInit][] {
  const own = { 'x-session-token': victim.token }
  const at = `/v1/sessions/${victim.handle}`
  return [
    ['/v1/sessions', { method: 'POST', headers: service, body: { userId: 'victim', data: { tenant: 'outage' } } }],
    [at, { headers: service }],
    [at, { method: 'DELETE', headers: service }],
    [`${at}/data/cart`, { headers: service }],
    [`${at}/data/cart`, { method: 'HEAD', headers: service }],
    [`${at}/data/cart`, { method: 'PUT', headers: service, body: { value: 'during the outage' } }],
    [`${at}/data/cart`, { method: 'DELETE', headers: service }],
    [`${at}/data`, { method: 'PATCH', headers: service, body: { set: { cart: 'during the outage' } } }],
    ['/v1/session', { headers: own }],
    ['/v1/session', { method: 'DELETE', headers: own }],
    ['/v1/session/data/cart', { method: 'PUT', headers: { ...own, ...service }, body: { value: 'during the outage' } }],
    ['/v1/session/rotate', { method: 'POST', headers: { ...own, ...service } }],
    ['/v1/session/devices', { headers: own }],
    ['/v1/session/devices', { method: 'DELETE', headers: { ...own } }],
    ['/v1/session/anonymous', { method: 'POST' }],
    ['/v1/auth', { headers: own }],
    ['/v1/users/victim/sessions', { headers: admin }],
    ['/v1/users/victim/sessions', { method: 'DELETE', headers: admin }],
    ['/v1/sessions?key=tenant&value=victim', { headers: admin }],
    ['/v1/sessions?key=tenant&value=victim', { method: 'DELETE', headers: admin }],
    ['/v1/stats/sessions?by=tenant', { headers: admin }],
    ['/readyz', {}]
  ]
}

const BURST = 100

interface Outage {
  /** Takes Redis away; resolves once it is away. */
  down(): Promise<void>
  /** Brings it back (or waits for it to come back by itself). */
  up(): Promise<void>
}

/** The whole outage scenario; returns the measured figures. */
async function outage(t: Test, name: string, how: Outage): Promise<void> {
  const { http } = await listening(t, env())
  const seed = await create(t, http, { userId: 'steady', data: { tenant: 'before', cart: 'kept' } })
  const victim = await create(t, http, { userId: 'victim', data: { tenant: 'victim', cart: 'kept' } })
  const own = { 'x-session-token': seed.token }

  // Steady traffic: a credential read (a touching script) and readiness, from several clients.
  const reads = traffic(() => http('/v1/session', { headers: own }), 3)
  const ready = traffic(() => http('/readyz'), 1, 50)
  const health = traffic(() => http('/healthz'), 1, 50)
  t.ok(await until(() => reads.replies.some((r) => r.status === 200)), 'traffic flows before the outage')

  const downAt = performance.now()
  await how.down()
  const readsDown = reads.replies.length
  t.ok(await until(() => reads.replies.slice(readsDown).some((r) => r.status === 503)), 'traffic starts answering 503')
  t.ok(await until(() => ready.replies.some((r) => r.at > downAt && r.status === 503)), '/readyz turns 503')
  const firstUnavailable = (reads.replies.find((r, i) => i >= readsDown && r.status === 503)?.at ?? NaN) - downAt

  // Every store-backed request answers 503 store_unavailable with Retry-After, none hangs.
  const matrix = storeBacked(victim)
  const answers = await Promise.all(matrix.map(([path, init]) => http(path, init)))
  answers.forEach((reply, i) => {
    const [path, init] = matrix[i] ?? ['?', {}]
    t.ok(isUnavailable(reply, init.method), `${init.method ?? 'GET'} ${path} → 503 store_unavailable + Retry-After (got ${reply.status} ${codeOf(reply)})`)
  })

  // A burst while it is down: every request is answered 503, none waits in a queue for Redis.
  const burst = await Promise.all(
    Array.from({ length: BURST }, (_, i) => http('/v1/sessions', { method: 'POST', headers: service, body: { userId: `burst${i}`, data: { tenant: 'outage' } } }))
  )
  t.equal(burst.filter((r) => isUnavailable(r)).length, BURST, `a burst of ${BURST} creates during the outage: all 503`)

  const upAt = performance.now()
  await how.up()
  const backAt = performance.now()
  t.ok(await until(() => ready.replies.some((r) => r.at > backAt && r.status === 200)), '/readyz answers 200 again')
  t.ok(await until(() => reads.replies.some((r) => r.at > backAt && r.status === 200)), 'traffic succeeds again, same app')
  const recovered = (reads.replies.find((r) => r.at > backAt && r.status === 200)?.at ?? NaN) - backAt
  const readyAgain = (ready.replies.find((r) => r.at > backAt && r.status === 200)?.at ?? NaN) - backAt
  await Promise.all([reads.stop(), ready.stop(), health.stop()])

  const all: Reply[] = [...reads.replies, ...ready.replies]
  t.same(all.filter((r) => r.status !== 200 && !isUnavailable(r)).map((r) => `${r.status} ${codeOf(r)}`), [], 'every reply was 200 or 503 store_unavailable; none hung')
  t.same(health.replies.filter((r) => r.status !== 200).map((r) => `${r.status} ${r.error ?? ''}`), [], `/healthz answered 200 throughout (${health.replies.length} checks)`)

  // After recovery everything works, and nothing answered 503 was carried out late.
  const after = await Promise.all(Array.from({ length: 20 }, (_, i) => http('/v1/sessions', { method: 'POST', headers: service, body: { userId: `after${i}`, data: { tenant: 'after' } } })))
  t.equal(after.filter((r) => r.status === 201).length, 20, 'creates succeed after recovery')
  const victimNow = await http(`/v1/sessions/${victim.handle}`, { headers: service })
  t.equal(victimNow.status, 200, 'the victim session is still there: no destroy, logout or rotation answered 503 ran later')
  t.equal((JSON.parse(victimNow.body) as { data?: { cart?: unknown } }).data?.cart, 'kept', 'and no write answered 503 ran later')
  const stats = await http('/v1/stats/sessions?by=tenant', { headers: admin })
  const counts = JSON.parse(stats.body) as { total: number; by: Record<string, number> }
  t.same(counts.by, { before: 1, victim: 1, after: 20 }, 'no create answered 503 ran later')

  const unavailable = [...reads.replies, ...answers, ...burst].filter((r) => r.status === 503).map((r) => r.ms)
  t.comment(
    `${name}: first 503 ${firstUnavailable.toFixed(0)} ms after Redis went away; 503 latency ${summary(unavailable)}; ` +
      `burst of ${BURST} answered in ${summary(burst.map((r) => r.ms))}; ` +
      `back ${(upAt - downAt).toFixed(0)} ms later; after Redis was back: /readyz 200 in ${readyAgain.toFixed(0)} ms, traffic 200 in ${recovered.toFixed(0)} ms`
  )
}

t.test('Redis killed mid-traffic, then restarted', async (t) => {
  await outage(t, 'kill', {
    down: () => server.kill(),
    up: () => server.start()
  })
})

t.test('Redis stopped (SIGSTOP) mid-traffic, then continued', async (t) => {
  await outage(t, 'SIGSTOP', {
    down: async () => server.pause(),
    up: async () => server.resume()
  })
})

t.test('Redis paused with CLIENT PAUSE ALL from another connection', async (t) => {
  const operator = new Redis(server.url, { maxRetriesPerRequest: 0 })
  operator.on('error', () => undefined)
  t.teardown(() => {
    operator.disconnect()
  })
  // A CLIENT PAUSE ALL cannot be lifted early (CLIENT UNPAUSE waits too), so
  // it lasts long enough for the whole outage phase even on a slow machine.
  const PAUSE_MS = 15_000
  let pausedAt = 0
  await outage(t, 'CLIENT PAUSE', {
    down: async () => {
      await operator.call('CLIENT', 'PAUSE', String(PAUSE_MS), 'ALL')
      pausedAt = performance.now()
    },
    up: async () => {
      await until(() => performance.now() - pausedAt > PAUSE_MS, PAUSE_MS + 1000)
    }
  })
})
