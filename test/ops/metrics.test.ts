/**
 * GET /metrics (spec §3, §9): Prometheus text with request durations by route
 * pattern, store operation durations and errors, the session lifecycle
 * counters, the live-sessions gauge, refused credentials by code and Node's
 * default metrics; a registry per app; METRICS_TOKEN; METRICS_PORT on real
 * listeners; and no handle, token or user id in any label.
 */
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { buildApp, listen } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { createStore } from '../../src/store/index.js'
import { fakeClock } from '../helpers/clock.js'
import { BASE_ENV, admin, createSession, forEachBackend, service } from '../helpers/app.js'
import { client, codeOf } from './http.js'

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

  t.test('refused credentials are counted by code, and nothing else is', async (t) => {
    const app = await h.build(t, { PUBLIC_KEYS: 'cart' })
    const refusedBy = (m: readonly Sample[]) =>
      Object.fromEntries(m.filter((s) => s.name === 'sessiond_credentials_refused_total').map((s): [string, number] => [s.labels.code ?? '', s.value]))
    t.same(refusedBy(await scrape(app)), { unauthenticated: 0, session_not_found: 0, session_rotated: 0, forbidden: 0 }, 'every code is a series from the start')

    const live = await createSession(app, { userId: 'ann' })
    const ended = await createSession(app)
    t.equal((await app.inject({ method: 'DELETE', url: `/v1/sessions/${ended.handle}`, headers: service })).statusCode, 204)
    const rotated = await app.inject({ method: 'POST', url: '/v1/session/rotate', headers: { 'x-session-token': live.token, ...service } })
    t.equal(rotated.statusCode, 201)
    const fresh = rotated.json<{ token: string }>().token
    const refusals: [string, number, string, Record<string, string>][] = [
      ['GET', 401, '/v1/session', {}],
      ['GET', 401, '/v1/session', { 'x-session-token': 'not-a-token' }],
      ['GET', 401, '/v1/users/ann/sessions', { authorization: 'Bearer an-unknown-key-0123456789' }],
      ['GET', 401, '/v1/session', { 'x-session-token': ended.token }],
      ['GET', 401, '/v1/auth', { 'x-session-token': live.token }],
      ['GET', 403, '/v1/users/ann/sessions', service],
      ['GET', 403, '/v1/session/data/role', { 'x-session-token': fresh }]
    ]
    const answers: [string, number, string, Record<string, string>][] = [
      ['GET', 404, `/v1/sessions/${ended.handle}`, service],
      ['GET', 404, '/v1/session/data/cart', { 'x-session-token': fresh }],
      ['GET', 200, '/v1/session', { 'x-session-token': fresh }],
      ['GET', 400, '/v1/sessions/short', service]
    ]
    const codes: string[] = []
    for (const [method, status, url, headers] of [...refusals, ...answers]) {
      const res = await app.inject({ method: method as 'GET', url, headers })
      t.equal(res.statusCode, status, `${method} ${url} answers ${status}`)
      if (status === 401 || status === 403) codes.push(res.json<{ code: string }>().code)
    }
    t.same(codes, ['unauthenticated', 'unauthenticated', 'unauthenticated', 'session_not_found', 'session_rotated', 'forbidden', 'forbidden'])

    const m = await scrape(app)
    t.same(refusedBy(m), { unauthenticated: 3, session_not_found: 1, session_rotated: 1, forbidden: 2 }, 'one count per refusal, by its code; a handle-addressed 404 is not a refusal')
    const text = (await app.inject({ method: 'GET', url: '/metrics' })).body
    t.same([live.token, ended.token, fresh, 'not-a-token', 'an-unknown-key-0123456789'].filter((secret) => text.includes(secret)), [], 'label values are codes, never tokens or keys')
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

t.test('METRICS_PORT: /metrics only on its own listener, bound like HOST, closed with the app', async (t) => {
  const token = 'metrics-token-0123456789abcdef'
  const app = await buildApp(loadConfig({ ...BASE_ENV, STORE: 'memory', HOST: '127.0.0.1', PORT: '0', METRICS_PORT: '0', METRICS_TOKEN: token }))
  t.teardown(() => app.close())
  const addresses = await listen(app)
  if (addresses.metrics === null) throw new Error('no metrics listener')
  t.not(addresses.metrics, addresses.service, 'two listeners')
  t.equal((app.metricsListener?.server.address() as AddressInfo).address, '127.0.0.1', 'the metrics listener is bound to HOST')
  const serviceHttp = client(addresses.service)
  const metricsHttp = client(addresses.metrics)
  const bearer = { authorization: `Bearer ${token}` }

  const created = await serviceHttp('/v1/sessions', { method: 'POST', headers: service, body: {} })
  t.equal(created.status, 201, 'the service port serves the API')
  const onService = await serviceHttp('/metrics', { headers: bearer })
  t.equal(onService.status, 404, 'the service port has no /metrics')
  t.equal(codeOf(onService), 'not_found')
  t.match(onService.headers.get('content-type'), /^application\/problem\+json/)
  t.notOk(onService.body.includes('sessiond_'), 'and no metrics in its answer')

  const refused = await metricsHttp('/metrics')
  t.equal(refused.status, 401, 'METRICS_TOKEN still guards it')
  t.equal(codeOf(refused), 'unauthenticated')
  for (const [method, path] of [['GET', '/healthz'], ['POST', '/v1/sessions'], ['GET', '/v1/session']] as const) {
    const other = await metricsHttp(path, { method, headers: service, ...(method === 'POST' ? { body: {} } : {}) })
    t.equal(other.status, 404, `the metrics port serves nothing else: ${method} ${path}`)
    t.equal(codeOf(other), 'not_found')
  }

  const scraped = await metricsHttp('/metrics', { headers: bearer })
  t.equal(scraped.status, 200)
  t.match(scraped.headers.get('content-type'), /^text\/plain; version=0\.0\.4/)
  const m = samples(scraped.body)
  t.equal(valueOf(m, 'sessiond_sessions_created_total'), 1, 'the same registry as the service')
  t.equal(valueOf(m, 'sessiond_credentials_refused_total', { code: 'unauthenticated' }), 1, 'the refused scrape is counted like any refusal')
  t.equal(valueOf(m, 'sessiond_http_request_duration_seconds_count', { route: '/metrics', method: 'GET', status: '401' }), 1, 'scrapes are timed')
  t.equal(valueOf(m, 'sessiond_http_request_duration_seconds_count', { route: 'unmatched', method: 'GET', status: '404' }), 3, '/metrics on the service port and the two GETs on the metrics port matched no route')

  await app.close()
  t.equal((await serviceHttp('/healthz')).status, 0, 'the service port is closed')
  t.equal((await metricsHttp('/metrics', { headers: bearer })).status, 0, 'and so is the metrics port')
})

t.test('a taken METRICS_PORT stops listen before the service port accepts anything', async (t) => {
  const squatter = createServer()
  await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => squatter.close(() => resolve())))
  const taken = (squatter.address() as AddressInfo).port
  const app = await buildApp(loadConfig({ ...BASE_ENV, STORE: 'memory', PORT: '0', METRICS_PORT: String(taken) }))
  t.teardown(() => app.close())
  await t.rejects(listen(app), { code: 'EADDRINUSE' })
  t.equal(app.server.listening, false, 'the service port was never opened')
})

t.test('without METRICS_PORT there is no metrics listener: /metrics is on the service port', async (t) => {
  const app = await buildApp(loadConfig({ ...BASE_ENV, STORE: 'memory', PORT: '0' }))
  t.teardown(() => app.close())
  const addresses = await listen(app)
  t.equal(addresses.metrics, null)
  t.equal(app.metricsListener, null)
  t.equal((await client(addresses.service)('/metrics')).status, 200)
})

forEachBackend(t, async (t, h) => {
  t.test('events recorded are counted by type and reason, only with EVENTS=true', async (t) => {
    const app = await h.build(t, { EVENTS: 'true' })
    const a = await createSession(app, { userId: 'events-user' })
    await createSession(app, { userId: 'events-user' })
    t.equal((await app.inject({ method: 'DELETE', url: `/v1/sessions/${a.handle}`, headers: service })).statusCode, 204)
    t.same((await app.inject({ method: 'DELETE', url: '/v1/users/events-user/sessions', headers: admin })).json(), { revoked: 1 })
    const m = await scrape(app)
    t.equal(valueOf(m, 'sessiond_events_recorded_total', { type: 'session.created' }), 2, 'created')
    t.equal(valueOf(m, 'sessiond_events_recorded_total', { type: 'session.ended', reason: 'destroyed' }), 1, 'destroyed')
    t.equal(valueOf(m, 'sessiond_events_recorded_total', { type: 'session.ended', reason: 'revoked' }), 1, 'revoked')
    const off = await h.build(t)
    await createSession(off)
    t.equal(valueOf(await scrape(off), 'sessiond_events_recorded_total', { type: 'session.created' }), undefined, 'nothing without events')
  })

  t.test('the sweep timer: its runs timed, the expiries it announces and the events it trims counted', async (t) => {
    const clock = fakeClock()
    const app = await h.build(t, { EVENTS: 'true', EVENTS_EXPIRY_LAG: '1', EVENTS_RETENTION: '60', SESSION_IDLE_TTL: '10', TOUCH_INTERVAL: '1' }, { clock: clock.now })
    await createSession(app)
    clock.advance(61_000)
    // The timer runs every 500 ms on the real clock; waited for with a deadline, not timed, and without
    // scraping meanwhile, since the live-sessions gauge would count (and so end) the expired session first.
    const trimmed = app.metrics.getSingleMetric('sessiond_events_trimmed_total')
    for (let tries = 0; tries < 100 && ((await trimmed?.get())?.values[0]?.value ?? 0) === 0; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    const m = await scrape(app)
    t.equal(valueOf(m, 'sessiond_events_recorded_total', { type: 'session.ended', reason: 'expired' }), 1, 'the expiry the sweep announced')
    t.equal(valueOf(m, 'sessiond_events_trimmed_total'), 1, 'the created event, older than EVENTS_RETENTION, trimmed')
    t.ok((valueOf(m, 'sessiond_events_sweep_duration_seconds_count') ?? 0) >= 1, 'each run timed')
    const off = await h.build(t)
    t.equal(valueOf(await scrape(off), 'sessiond_events_sweep_duration_seconds_count'), 0, 'no sweep runs without events')
  })
})
