import { createHash } from 'node:crypto'
import t from 'tap'
import { admin, createSession, forEachBackend, service } from '../helpers/app.js'
import { fakeClock } from '../helpers/clock.js'


forEachBackend(t, async (t, h) => {
  t.test('create returns the token once, the session, an ETag and the cookie', async (t) => {
    const app = await h.build(t)
    const res = await app.inject({
      method: 'POST',
      url: '/v1/sessions',
      headers: service,
      payload: { userId: 'alice', data: { cart: [1, 2], tenant: 'acme' }, userAgent: 'x'.repeat(300), ip: '203.0.113.7' }
    })
    t.equal(res.statusCode, 201)
    const body = res.json<{ token: string; session: Record<string, unknown> }>()
    t.match(body.token, /^[A-Za-z0-9_-]{43}$/)
    t.equal(body.session.handle, createHash('sha256').update(body.token).digest('base64url'))
    t.equal(body.session.userId, 'alice')
    t.equal(body.session.version, 1)
    t.same(body.session.data, { cart: [1, 2], tenant: 'acme' })
    t.equal((body.session.userAgent as string).length, 256)
    t.equal(body.session.ip, '203.0.113.7')
    t.equal(body.session.authenticatedAt, body.session.createdAt)
    t.equal(res.headers.etag, '"1"')
    t.equal(res.headers['cache-control'], 'no-store')
    const cookie = String(res.headers['set-cookie'])
    t.match(cookie, new RegExp(`^sid=${body.token}; Max-Age=86400; Path=/; HttpOnly; Secure; SameSite=Lax$`))
  })

  t.test('an anonymous create has no user and no authenticatedAt', async (t) => {
    const app = await h.build(t)
    const { res } = await createSession(app)
    const session = res.json<{ session: Record<string, unknown> }>().session
    t.equal(session.userId, null)
    t.equal(session.authenticatedAt, null)
    t.same(session.data, {})
  })

  t.test('create honours per-session TTLs and refuses ones over the configured maximum', async (t) => {
    const clock = fakeClock()
    const app = await h.build(t, {}, { clock: clock.now })
    const { res } = await createSession(app, { idleTtl: 60, absoluteTtl: 600 })
    const session = res.json<{ session: { createdAt: string; expiresAt: string; absoluteExpiresAt: string } }>().session
    t.equal(Date.parse(session.expiresAt) - Date.parse(session.createdAt), 60_000)
    t.equal(Date.parse(session.absoluteExpiresAt) - Date.parse(session.createdAt), 600_000)
    t.match(String(res.headers['set-cookie']), /Max-Age=600;/)
    for (const payload of [{ idleTtl: 1801 }, { absoluteTtl: 86401 }, { idleTtl: 0 }, { idleTtl: 1.5 }, { idleTtl: '60' }]) {
      const bad = await app.inject({ method: 'POST', url: '/v1/sessions', headers: service, payload })
      t.equal(bad.statusCode, 400, JSON.stringify(payload))
      t.equal(bad.json<{ code: string }>().code, 'validation_failed')
    }
  })

  t.test('create refuses malformed input with a problem that names the field', async (t) => {
    const app = await h.build(t)
    const cases: [Record<string, unknown>, string][] = [
      [{ userId: '' }, 'body.userId'],
      [{ userId: 'has space' }, 'body.userId'],
      [{ userId: 'x'.repeat(257) }, 'body.userId'],
      [{ ip: 'not-an-ip' }, 'body.ip'],
      [{ data: [1] }, 'body.data'],
      [{ data: { 'bad key': 1 } }, 'body.data'],
      [{ surprise: 1 }, 'body']
    ]
    for (const [payload, field] of cases) {
      const res = await app.inject({ method: 'POST', url: '/v1/sessions', headers: service, payload })
      t.equal(res.statusCode, 400, JSON.stringify(payload))
      t.match(res.headers['content-type'], /^application\/problem\+json/)
      const problem = res.json<{ code: string; detail: string; status: number; type: string; title: string }>()
      t.equal(problem.code, 'validation_failed')
      t.equal(problem.status, 400)
      t.match(problem.detail, field)
    }
  })

  t.test('the cookie is signed when COOKIE_SECRET is set, and its options follow the config', async (t) => {
    const app = await h.build(t, { COOKIE_SECRET: 's'.repeat(32), COOKIE_PERSISTENT: 'false', COOKIE_SECURE: 'false', COOKIE_SAMESITE: 'Strict', COOKIE_DOMAIN: 'example.test', COOKIE_NAME: 'app_sid' })
    const { token, res } = await createSession(app)
    const cookie = String(res.headers['set-cookie'])
    t.match(cookie, new RegExp(`^app_sid=${token}\\.[A-Za-z0-9+/]+; Domain=example.test; Path=/; HttpOnly; SameSite=Strict$`))
    t.notMatch(cookie, /Max-Age|Secure/)
  })

  t.test('API keys: missing, malformed and unknown keys are 401; admin keys work too', async (t) => {
    const app = await h.build(t)
    const { handle } = await createSession(app)
    for (const headers of [{}, { authorization: 'Basic abc' }, { authorization: 'Bearer wrong-key-0123456789' }]) {
      const res = await app.inject({ method: 'GET', url: `/v1/sessions/${handle}`, headers })
      t.equal(res.statusCode, 401)
      t.match(res.headers['content-type'], /^application\/problem\+json/)
      t.equal(res.json<{ code: string }>().code, 'unauthenticated')
    }
    const asAdmin = await app.inject({ method: 'GET', url: `/v1/sessions/${handle}`, headers: admin })
    t.equal(asAdmin.statusCode, 200)
  })

  t.test('read by handle returns record and data, never the token, and never extends expiry', async (t) => {
    const clock = fakeClock()
    const app = await h.build(t, {}, { clock: clock.now })
    const { token, handle, res } = await createSession(app, { data: { a: 1 } })
    const created = res.json<{ session: { expiresAt: string } }>().session
    clock.advance(60_000)
    const read = await app.inject({ method: 'GET', url: `/v1/sessions/${handle}`, headers: service })
    t.equal(read.statusCode, 200)
    t.equal(read.headers.etag, '"1"')
    t.equal(read.headers['cache-control'], 'no-store')
    t.notMatch(read.body, token)
    const session = read.json<{ expiresAt: string; lastSeenAt: string; data: unknown }>()
    t.equal(session.expiresAt, created.expiresAt)
    t.same(session.data, { a: 1 })
  })

  t.test('unknown, malformed and destroyed handles', async (t) => {
    const app = await h.build(t)
    const unknown = 'A'.repeat(43)
    const missing = await app.inject({ method: 'GET', url: `/v1/sessions/${unknown}`, headers: service })
    t.equal(missing.statusCode, 404)
    t.equal(missing.json<{ code: string }>().code, 'session_not_found')
    const malformed = await app.inject({ method: 'GET', url: '/v1/sessions/short', headers: service })
    t.equal(malformed.statusCode, 400)
    t.equal(malformed.json<{ code: string }>().code, 'validation_failed')
    const { handle } = await createSession(app)
    t.equal((await app.inject({ method: 'DELETE', url: `/v1/sessions/${handle}`, headers: service })).statusCode, 204)
    t.equal((await app.inject({ method: 'GET', url: `/v1/sessions/${handle}`, headers: service })).statusCode, 404)
    const again = await app.inject({ method: 'DELETE', url: `/v1/sessions/${handle}`, headers: service })
    t.equal(again.statusCode, 404)
    t.equal(again.json<{ code: string }>().code, 'session_not_found')
  })

  t.test('one key: put, get, head, delete, with versions in ETags', async (t) => {
    const app = await h.build(t)
    const { handle } = await createSession(app)
    const url = `/v1/sessions/${handle}/data/cart`
    const put = await app.inject({ method: 'PUT', url, headers: service, payload: { value: { items: ['book'] } } })
    t.equal(put.statusCode, 204)
    t.equal(put.headers.etag, '"2"')
    const get = await app.inject({ method: 'GET', url, headers: service })
    t.equal(get.statusCode, 200)
    t.same(get.json(), { key: 'cart', value: { items: ['book'] } })
    t.equal(get.headers.etag, '"2"')
    const head = await app.inject({ method: 'HEAD', url, headers: service })
    t.equal(head.statusCode, 200)
    t.equal(head.body, '')
    const nullValue = await app.inject({ method: 'PUT', url: `/v1/sessions/${handle}/data/empty`, headers: service, payload: { value: null } })
    t.equal(nullValue.statusCode, 204)
    t.same((await app.inject({ method: 'GET', url: `/v1/sessions/${handle}/data/empty`, headers: service })).json(), { key: 'empty', value: null })
    const del = await app.inject({ method: 'DELETE', url, headers: service })
    t.equal(del.statusCode, 204)
    t.equal(del.headers.etag, '"4"')
    const gone = await app.inject({ method: 'GET', url, headers: service })
    t.equal(gone.statusCode, 404)
    t.equal(gone.json<{ code: string }>().code, 'not_found')
    const headGone = await app.inject({ method: 'HEAD', url, headers: service })
    t.equal(headGone.statusCode, 404)
    t.equal(headGone.body, '')
    const delAgain = await app.inject({ method: 'DELETE', url, headers: service })
    t.equal(delAgain.statusCode, 204)
    t.equal(delAgain.headers.etag, '"4"')
  })

  t.test('If-Match: a stale version is 412 and writes nothing; a current one writes', async (t) => {
    const app = await h.build(t)
    const { handle } = await createSession(app, { data: { n: 1 } })
    const url = `/v1/sessions/${handle}/data/n`
    const stale = await app.inject({ method: 'PUT', url, headers: { ...service, 'if-match': '"7"' }, payload: { value: 2 } })
    t.equal(stale.statusCode, 412)
    t.equal(stale.json<{ code: string }>().code, 'precondition_failed')
    t.same((await app.inject({ method: 'GET', url, headers: service })).json(), { key: 'n', value: 1 })
    const staleBatch = await app.inject({ method: 'PATCH', url: `/v1/sessions/${handle}/data`, headers: { ...service, 'if-match': '"7"' }, payload: { set: { n: 3 } } })
    t.equal(staleBatch.statusCode, 412)
    const staleDel = await app.inject({ method: 'DELETE', url, headers: { ...service, 'if-match': '"7"' } })
    t.equal(staleDel.statusCode, 412)
    const current = await app.inject({ method: 'PUT', url, headers: { ...service, 'if-match': '"1"' }, payload: { value: 2 } })
    t.equal(current.statusCode, 204)
    const any = await app.inject({ method: 'PUT', url, headers: { ...service, 'if-match': '*' }, payload: { value: 3 } })
    t.equal(any.statusCode, 204)
    const malformed = await app.inject({ method: 'PUT', url, headers: { ...service, 'if-match': 'W/"3"' }, payload: { value: 4 } })
    t.equal(malformed.statusCode, 400)
    t.same((await app.inject({ method: 'GET', url, headers: service })).json(), { key: 'n', value: 3 })
  })

  t.test('a batch sets, deletes and increments atomically', async (t) => {
    const app = await h.build(t)
    const { handle } = await createSession(app, { data: { a: 1, b: 2, count: 5, label: 'x' } })
    const url = `/v1/sessions/${handle}/data`
    const res = await app.inject({ method: 'PATCH', url, headers: service, payload: { set: { c: true }, del: ['a', 'missing'], incr: { count: 3, fresh: -2 } } })
    t.equal(res.statusCode, 200)
    t.equal(res.headers.etag, '"2"')
    const session = res.json<{ version: number; data: Record<string, unknown> }>()
    t.equal(session.version, 2)
    t.same(session.data, { b: 2, count: 8, label: 'x', c: true, fresh: -2 })

    const notInteger = await app.inject({ method: 'PATCH', url, headers: service, payload: { set: { z: 1 }, incr: { label: 1 } } })
    t.equal(notInteger.statusCode, 409)
    t.equal(notInteger.json<{ code: string }>().code, 'conflict')
    const twice = await app.inject({ method: 'PATCH', url, headers: service, payload: { set: { b: 1 }, del: ['b'] } })
    t.equal(twice.statusCode, 400)
    const empty = await app.inject({ method: 'PATCH', url, headers: service, payload: {} })
    t.equal(empty.statusCode, 400)
    const badIncr = await app.inject({ method: 'PATCH', url, headers: service, payload: { incr: { count: 1.5 } } })
    t.equal(badIncr.statusCode, 400)
    const after = await app.inject({ method: 'GET', url: `/v1/sessions/${handle}`, headers: service })
    t.same(after.json<{ data: unknown }>().data, { b: 2, count: 8, label: 'x', c: true, fresh: -2 })
    t.equal(after.json<{ version: number }>().version, 2)
  })

  t.test('limits: oversized or malformed input is a clear 4xx and changes nothing', async (t) => {
    const app = await h.build(t, { MAX_VALUE_BYTES: '64', MAX_KEYS: '3', MAX_SESSION_BYTES: '150' })
    const { handle } = await createSession(app, { data: { a: 1 } })
    const before = (await app.inject({ method: 'GET', url: `/v1/sessions/${handle}`, headers: service })).body
    const attempts = [
      { method: 'PUT' as const, url: `/v1/sessions/${handle}/data/big`, payload: { value: 'x'.repeat(100) }, status: 413, code: 'payload_too_large' },
      { method: 'PUT' as const, url: `/v1/sessions/${handle}/data/${'k'.repeat(129)}`, payload: { value: 1 }, status: 400, code: 'validation_failed' },
      { method: 'PUT' as const, url: `/v1/sessions/${handle}/data/bad%20key`, payload: { value: 1 }, status: 400, code: 'validation_failed' },
      { method: 'PATCH' as const, url: `/v1/sessions/${handle}/data`, payload: { set: { b: 1, c: 2, d: 3 } }, status: 413, code: 'payload_too_large' },
      { method: 'PATCH' as const, url: `/v1/sessions/${handle}/data`, payload: { set: { b: 'y'.repeat(60), c: 'y'.repeat(60), a: 'y'.repeat(60) } }, status: 413, code: 'payload_too_large' },
      { method: 'PUT' as const, url: `/v1/sessions/${handle}/data/v`, payload: { wrong: 1 }, status: 400, code: 'validation_failed' },
      { method: 'PUT' as const, url: `/v1/sessions/${handle}/data/v`, payload: { value: 1, extra: 2 }, status: 400, code: 'validation_failed' }
    ]
    for (const a of attempts) {
      const res = await app.inject({ method: a.method, url: a.url, headers: service, payload: a.payload })
      t.equal(res.statusCode, a.status, `${a.method} ${a.url.slice(0, 80)}`)
      t.equal(res.json<{ code: string }>().code, a.code)
    }
    const over = await app.inject({ method: 'POST', url: '/v1/sessions', headers: service, payload: { data: { big: 'x'.repeat(100) } } })
    t.equal(over.statusCode, 413)
    t.equal((await app.inject({ method: 'GET', url: `/v1/sessions/${handle}`, headers: service })).body, before)
  })

  t.test('bodies: only JSON, at most 1 MiB, well-formed', async (t) => {
    const app = await h.build(t)
    const { handle } = await createSession(app)
    const url = `/v1/sessions/${handle}/data/k`
    const text = await app.inject({ method: 'PUT', url, headers: { ...service, 'content-type': 'text/plain' }, payload: 'hello' })
    t.equal(text.statusCode, 415)
    t.equal(text.json<{ code: string }>().code, 'unsupported_media_type')
    const form = await app.inject({ method: 'PUT', url, headers: { ...service, 'content-type': 'application/x-www-form-urlencoded' }, payload: 'value=1' })
    t.equal(form.statusCode, 415)
    const broken = await app.inject({ method: 'PUT', url, headers: { ...service, 'content-type': 'application/json' }, payload: '{"value":' })
    t.equal(broken.statusCode, 400)
    t.equal(broken.json<{ code: string }>().code, 'validation_failed')
    const huge = await app.inject({ method: 'PUT', url, headers: { ...service, 'content-type': 'application/json' }, payload: JSON.stringify({ value: 'x'.repeat(1024 * 1024) }) })
    t.equal(huge.statusCode, 413)
    t.equal(huge.json<{ code: string }>().code, 'payload_too_large')
    const get = await app.inject({ method: 'GET', url, headers: service })
    t.equal(get.statusCode, 404)
  })

  t.test('__proto__, constructor and prototype are ordinary, inert keys', async (t) => {
    const app = await h.build(t)
    const { handle } = await createSession(app, { data: JSON.parse('{"__proto__": {"polluted": true}, "constructor": 1}') as Record<string, unknown> })
    const put = await app.inject({ method: 'PUT', url: `/v1/sessions/${handle}/data/prototype`, headers: { ...service, 'content-type': 'application/json' }, payload: '{"value": {"__proto__": {"polluted": 2}}}' })
    t.equal(put.statusCode, 204)
    const patch = await app.inject({
      method: 'PATCH',
      url: `/v1/sessions/${handle}/data`,
      headers: { ...service, 'content-type': 'application/json' },
      payload: '{"incr": {"__proto__x": 1}, "set": {"constructor": {"prototype": 3}}}'
    })
    t.equal(patch.statusCode, 200)
    const data = (await app.inject({ method: 'GET', url: `/v1/sessions/${handle}`, headers: service })).json<{ data: Record<string, unknown> }>().data
    t.same(Object.keys(data).sort(), ['__proto__', '__proto__x', 'constructor', 'prototype'])
    t.same(JSON.parse(JSON.stringify(data)), JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": 3}, "prototype": {"__proto__": {"polluted": 2}}, "__proto__x": 1}'))
    t.equal(({} as Record<string, unknown>).polluted, undefined)
    const one = await app.inject({ method: 'GET', url: `/v1/sessions/${handle}/data/__proto__`, headers: service })
    t.same(one.json(), JSON.parse('{"key": "__proto__", "value": {"polluted": true}}'))
  })

  t.test('errors raised by the router are problem+json 400s', async (t) => {
    const app = await h.build(t)
    for (const url of [`/v1/sessions/${'A'.repeat(600)}`, '/v1/sessions/%E0%A4%A/data/k']) {
      const res = await app.inject({ method: 'GET', url, headers: service })
      t.equal(res.statusCode, 400, url.slice(0, 40))
      t.match(res.headers['content-type'], /^application\/problem\+json/)
      t.equal(res.json<{ code: string }>().code, 'validation_failed')
    }
  })

  t.test('unknown routes are problem+json 404s', async (t) => {
    const app = await h.build(t)
    const res = await app.inject({ method: 'GET', url: '/v1/nope' })
    t.equal(res.statusCode, 404)
    t.match(res.headers['content-type'], /^application\/problem\+json/)
    t.same(res.json(), { type: 'urn:sessiond:problem:not_found', title: 'Not found', status: 404, detail: 'no route for GET /v1/nope', code: 'not_found' })
  })

  t.test('health, readiness and the API description', async (t) => {
    const app = await h.build(t)
    t.same((await app.inject({ url: '/healthz' })).json(), { status: 'ok' })
    t.same((await app.inject({ url: '/readyz' })).json(), { status: 'ok', store: h.backend })
    const spec = await app.inject({ url: '/openapi.yaml' })
    t.equal(spec.statusCode, 200)
    t.match(spec.headers['content-type'], /^application\/yaml/)
    t.match(spec.body, /^openapi: 3\.1/)
  })
})
