/**
 * GET /metrics (spec §9): Prometheus text with request durations by route
 * pattern, store operation durations and errors, the session lifecycle
 * counters, the live-sessions gauge and Node's default metrics; a registry
 * per app; METRICS_TOKEN; and no handle, token or user id in any label.
 */
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { createStore } from '../../src/store/index.js'
import { BASE_ENV, admin, createSession, forEachBackend, service } from '../helpers/app.js'

interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

/** The sample lines of a Prometheus text exposition. */
function samples(text: string): Sample[] {
  const out: Sample[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (m === null) throw new Error(`not a sample line: ${line}`)
    const labels: Record<string, string> = {}
    for (const [, k, v] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[k as string] = v as string
    out.push({ name: m[1] as string, labels, value: Number(m[3]) })
  }
  return out
}

async function scrape(app: FastifyInstance, headers: Record<string, string> = {}): Promise<Sample[]> {
  const res = await app.inject({ method: 'GET', url: '/metrics', headers })
  if (res.statusCode !== 200) throw new Error(`/metrics answered ${res.statusCode}: ${res.body}`)
  return samples(res.body)
}

/** The value of the one sample of `name` whose labels include `labels`; undefined when there is none. */
function valueOf(all: readonly Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = all.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
  if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${found.length} samples`)
  return found[0]?.value
}

forEachBackend(t, async (t, h) => {
  t.test('the lifecycle counters, the gauge and durations follow a real flow', async (t) => {
    const app = await h.build(t, { INDEXED_KEYS: 'tenant' })
    const userId = 'user-with-a-recognisable-id'
    const secrets: string[] = [userId]
    const a = await createSession(app, { userId, data: { tenant: 'acme' } })
    const b = await createSession(app, { userId, data: { tenant: 'acme' } })
    const c = await createSession(app, { userId: 'another-user-id', data: { tenant: 'globex' } })
    const d = await createSession(app, { data: { tenant: 'globex' } })
    secrets.push(...[a, b, c, d].flatMap((s) => [s.token, s.handle]))

    t.equal((await app.inject({ method: 'GET', url: `/v1/sessions/${a.handle}`, headers: service })).statusCode, 200)
    t.equal((await app.inject({ method: 'GET', url: `/v1/sessions/${a.handle}/data/tenant`, headers: service })).statusCode, 200)
    t.equal((await app.inject({ method: 'GET', url: '/v1/session', headers: { 'x-session-token': c.token } })).statusCode, 200)
    const rotated = await app.inject({ method: 'POST', url: '/v1/session/rotate', headers: { 'x-session-token': a.token, ...service } })
    t.equal(rotated.statusCode, 201)
    const fresh = rotated.json<{ token: string; session: { handle: string } }>()
    secrets.push(fresh.token, fresh.session.handle)
    t.equal((await app.inject({ method: 'DELETE', url: `/v1/sessions/${d.handle}`, headers: service })).statusCode, 204)
    t.equal((await app.inject({ method: 'DELETE', url: `/v1/sessions/${d.handle}`, headers: service })).statusCode, 404, 'a second destroy ends nothing')
    const all = await app.inject({ method: 'DELETE', url: `/v1/users/${userId}/sessions?except=${fresh.session.handle}`, headers: admin })
    t.same(all.json(), { revoked: 1 })
    const tenant = await app.inject({ method: 'DELETE', url: '/v1/sessions?key=tenant&value=globex', headers: admin })
    t.same(tenant.json(), { revoked: 1 })
    t.equal((await app.inject({ method: 'GET', url: `/v1/no-such-route/${b.handle}` })).statusCode, 404)
    t.equal((await app.inject({ method: 'GET', url: `/v1/sessions/${b.handle}`, headers: service })).statusCode, 404, 'b was logged out everywhere')

    const res = await app.inject({ method: 'GET', url: '/metrics' })
    t.equal(res.statusCode, 200)
    t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/, 'Prometheus text format')
    const m = samples(res.body)
    t.equal(valueOf(m, 'sessiond_sessions_created_total'), 4, 'created')
    t.equal(valueOf(m, 'sessiond_sessions_rotated_total'), 1, 'rotated')
    t.equal(valueOf(m, 'sessiond_logout_all_total'), 1, 'logout-all calls')
    t.equal(valueOf(m, 'sessiond_sessions_destroyed_total', { reason: 'destroy' }), 1, 'destroyed one by one')
    t.equal(valueOf(m, 'sessiond_sessions_destroyed_total', { reason: 'logout_all' }), 1, 'destroyed by logout-all')
    t.equal(valueOf(m, 'sessiond_sessions_destroyed_total', { reason: 'index' }), 1, 'destroyed by index')
    t.equal(valueOf(m, 'sessiond_sessions_live'), 1, 'live sessions, counted at scrape time')
    t.equal(valueOf(m, 'sessiond_store_operation_duration_seconds_count', { operation: 'create' }), 4, 'store durations by operation')
    t.ok((valueOf(m, 'sessiond_store_operation_duration_seconds_count', { operation: 'get' }) ?? 0) >= 2)
    t.equal(valueOf(m, 'sessiond_store_errors_total', { operation: 'get' }), undefined, 'a session_not_found is not a store error')
    t.equal(
      valueOf(m, 'sessiond_http_request_duration_seconds_count', { route: '/v1/sessions/:handle', method: 'GET', status: '200' }),
      1,
      'request durations by route pattern, method and status'
    )
    t.equal(valueOf(m, 'sessiond_http_request_duration_seconds_count', { route: '/v1/sessions/:handle', method: 'GET', status: '404' }), 1)
    t.equal(valueOf(m, 'sessiond_http_request_duration_seconds_count', { route: '/v1/sessions', method: 'POST', status: '201' }), 4)
    t.equal(valueOf(m, 'sessiond_http_request_duration_seconds_count', { route: 'unmatched', method: 'GET', status: '404' }), 1, 'unmatched URLs share one label')
    t.ok(m.some((s) => s.name === 'process_cpu_user_seconds_total'), 'Node default metrics: CPU')
    t.ok(m.some((s) => s.name === 'nodejs_heap_size_used_bytes'), 'Node default metrics: heap')
    t.ok(m.some((s) => s.name === 'nodejs_eventloop_lag_seconds'), 'Node default metrics: event loop lag')

    const labelValues = new Set(m.flatMap((s) => Object.values(s.labels)))
    const leaks = secrets.filter((secret) => [...labelValues].some((v) => v.includes(secret)) || res.body.includes(secret))
    t.same(leaks, [], 'no handle, token or user id anywhere in the metrics')
    const routes = new Set(m.filter((s) => s.name.startsWith('sessiond_http_')).map((s) => s.labels.route))
    t.ok([...routes].every((r) => r === 'unmatched' || r === '/metrics' || /^\/[a-z0-9/:._-]*$/i.test(r ?? '')), `route labels are patterns: ${[...routes].join(' ')}`)
  })

  t.test('a registry per app: two apps count separately', async (t) => {
    const one = await h.build(t)
    const two = await h.build(t)
    await createSession(one)
    await createSession(one)
    await createSession(two)
    t.equal(valueOf(await scrape(one), 'sessiond_sessions_created_total'), 2)
    t.equal(valueOf(await scrape(two), 'sessiond_sessions_created_total'), 1)
  })
})

t.test('a store that is down: errors counted, the gauge left out, the scrape still 200', async (t) => {
  const config = loadConfig({ ...BASE_ENV, STORE: 'memory' })
  const store = createStore(config)
  const app = await buildApp(config, { store })
  t.teardown(() => app.close())
  const { handle } = await createSession(app)
  t.equal(valueOf(await scrape(app), 'sessiond_sessions_live'), 1)
  await store.close()
  t.equal((await app.inject({ method: 'GET', url: `/v1/sessions/${handle}`, headers: service })).statusCode, 503)
  t.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 503)
  const m = await scrape(app)
  t.equal(valueOf(m, 'sessiond_sessions_live'), undefined, 'no live-sessions sample while the store is down')
  t.equal(valueOf(m, 'sessiond_store_errors_total', { operation: 'get', code: 'store_unavailable' }), 1, 'the failed read')
  t.equal(valueOf(m, 'sessiond_store_errors_total', { operation: 'ping', code: 'store_unavailable' }), 1, 'the failed readiness check')
  t.equal(valueOf(m, 'sessiond_http_request_duration_seconds_count', { route: '/v1/sessions/:handle', method: 'GET', status: '503' }), 1)
})

t.test('an internal error is counted as one', async (t) => {
  const config = loadConfig({ ...BASE_ENV, STORE: 'memory' })
  const store = createStore(config)
  const broken = { ...store, get: () => Promise.reject(new Error('a bug')) }
  const app = await buildApp(config, { store: broken })
  t.teardown(async () => {
    await app.close()
    await store.close()
  })
  const { handle } = await createSession(app)
  t.equal((await app.inject({ method: 'GET', url: `/v1/sessions/${handle}`, headers: service })).statusCode, 500)
  t.equal(valueOf(await scrape(app), 'sessiond_store_errors_total', { operation: 'get', code: 'internal' }), 1)
})

t.test('METRICS_TOKEN guards the route', async (t) => {
  const token = 'metrics-token-0123456789abcdef'
  const app = await buildApp(loadConfig({ ...BASE_ENV, STORE: 'memory', METRICS_TOKEN: token }))
  t.teardown(() => app.close())
  for (const headers of [{}, { authorization: 'Bearer wrong-token-0123456789abcdef' }, { authorization: token }, { authorization: `Basic ${token}` }]) {
    const res = await app.inject({ method: 'GET', url: '/metrics', headers })
    t.equal(res.statusCode, 401, `refused with ${JSON.stringify(headers)}`)
    t.match(res.headers['content-type'], /^application\/problem\+json/)
    t.equal(res.json<{ code: string }>().code, 'unauthenticated')
    t.notOk(res.body.includes('sessiond_'), 'no metrics in the refusal')
  }
  const ok = await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${token}` } })
  t.equal(ok.statusCode, 200)
  t.match(ok.body, /^# HELP /m)
  t.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200, 'the token guards /metrics only')
})
