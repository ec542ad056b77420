import { createHmac } from 'node:crypto'
import type { LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { createStore } from '../../src/store/index.js'
import { handleOf, newToken } from '../../src/tokens.js'
import { BASE_ENV, createSession, forEachBackend, service } from '../helpers/app.js'
import { fakeClock } from '../helpers/clock.js'

const cookieOf = (token: string) => ({ cookie: `sid=${token}` })
const setCookie = (res: LightMyRequestResponse): string => String(res.headers['set-cookie'] ?? '')
const codeOf = (res: LightMyRequestResponse): string => res.json<{ code: string }>().code
/** @fastify/cookie's signature: HMAC-SHA256, base64 without padding. */
const sign = (value: string, secret: string) => `${value}.${createHmac('sha256', secret).update(value).digest('base64').replace(/=+$/, '')}`

forEachBackend(t, async (t, h) => {
  t.test('the cookie or X-Session-Token address the caller; public keys only without an API key', async (t) => {
    const app = await h.build(t, { PUBLIC_KEYS: 'cart,prefs.*' })
    const { token, handle } = await createSession(app, { userId: 'u1', data: { cart: [1], 'prefs.theme': 'dark', role: 'admin' } })
    for (const headers of [cookieOf(token), { 'x-session-token': token }]) {
      const res = await app.inject({ method: 'GET', url: '/v1/session', headers })
      t.equal(res.statusCode, 200)
      t.equal(res.headers['cache-control'], 'no-store')
      t.equal(res.headers['set-cookie'], undefined, 'reads need no Set-Cookie')
      const session = res.json<{ handle: string; userId: string; data: unknown }>()
      t.equal(session.handle, handle)
      t.equal(session.userId, 'u1')
      t.same(session.data, { cart: [1], 'prefs.theme': 'dark' })
    }
    const withKey = await app.inject({ method: 'GET', url: '/v1/session', headers: { ...cookieOf(token), ...service } })
    t.same(withKey.json<{ data: unknown }>().data, { cart: [1], 'prefs.theme': 'dark', role: 'admin' })
  })

  t.test('tokens are never taken from the query string or the body', async (t) => {
    const app = await h.build(t)
    const { token } = await createSession(app)
    const res = await app.inject({ method: 'GET', url: `/v1/session?token=${token}&sid=${token}` })
    t.equal(res.statusCode, 401)
    t.equal(codeOf(res), 'unauthenticated')
  })

  t.test('missing, malformed and made-up credentials', async (t) => {
    const app = await h.build(t)
    const none = await app.inject({ method: 'GET', url: '/v1/session' })
    t.equal(none.statusCode, 401)
    t.equal(codeOf(none), 'unauthenticated')
    for (const headers of [{ cookie: 'sid=short' }, { 'x-session-token': 'x'.repeat(44) }]) {
      const res = await app.inject({ method: 'GET', url: '/v1/session', headers })
      t.equal(res.statusCode, 401)
      t.equal(codeOf(res), 'unauthenticated')
    }
    const madeUp = await app.inject({ method: 'GET', url: '/v1/session', headers: cookieOf(newToken()) })
    t.equal(madeUp.statusCode, 401)
    t.equal(codeOf(madeUp), 'session_not_found')
    t.match(setCookie(madeUp), /^sid=; Max-Age=0; Path=\/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Secure; SameSite=Lax$/)
  })

  t.test('expired and destroyed sessions are 401 session_not_found and clear the cookie', async (t) => {
    const clock = fakeClock()
    const app = await h.build(t, { SESSION_IDLE_TTL: '60' }, { clock: clock.now })
    const expiring = await createSession(app)
    const destroyed = await createSession(app)
    await app.inject({ method: 'DELETE', url: `/v1/sessions/${destroyed.handle}`, headers: service })
    clock.advance(61_000)
    for (const token of [expiring.token, destroyed.token]) {
      const res = await app.inject({ method: 'GET', url: '/v1/session', headers: cookieOf(token) })
      t.equal(res.statusCode, 401)
      t.equal(codeOf(res), 'session_not_found')
      t.match(setCookie(res), /^sid=; Max-Age=0/)
    }
    const viaHeader = await app.inject({ method: 'GET', url: '/v1/auth', headers: { 'x-session-token': expiring.token } })
    t.equal(viaHeader.statusCode, 401)
    t.equal(viaHeader.headers['set-cookie'], undefined, 'no cookie to clear for header clients')
  })

  t.test('every credential use slides the idle expiry, capped by the absolute one', async (t) => {
    const clock = fakeClock()
    const app = await h.build(t, { SESSION_IDLE_TTL: '60', SESSION_ABSOLUTE_TTL: '150' }, { clock: clock.now })
    const { token, res } = await createSession(app)
    const createdAt = Date.parse(res.json<{ session: { createdAt: string } }>().session.createdAt)
    for (const step of [50_000, 50_000]) {
      clock.advance(step)
      const use = await app.inject({ method: 'GET', url: '/v1/auth', headers: cookieOf(token) })
      t.equal(use.statusCode, 204)
    }
    const read = await app.inject({ method: 'GET', url: '/v1/session', headers: cookieOf(token) })
    t.equal(Date.parse(read.json<{ expiresAt: string }>().expiresAt), createdAt + 150_000, 'idle expiry capped by the absolute one')
    clock.advance(50_001)
    const after = await app.inject({ method: 'GET', url: '/v1/session', headers: cookieOf(token) })
    t.equal(after.statusCode, 401, 'the absolute expiry never moves')
  })

  t.test('TOUCH_INTERVAL skips refreshes while the last one is younger', async (t) => {
    const clock = fakeClock()
    const app = await h.build(t, { SESSION_IDLE_TTL: '600', TOUCH_INTERVAL: '60' }, { clock: clock.now })
    const { token, res } = await createSession(app)
    const first = res.json<{ session: { expiresAt: string } }>().session.expiresAt
    clock.advance(30_000)
    const inside = await app.inject({ method: 'GET', url: '/v1/session', headers: cookieOf(token) })
    t.equal(inside.json<{ expiresAt: string }>().expiresAt, first)
    clock.advance(31_000)
    const after = await app.inject({ method: 'GET', url: '/v1/session', headers: cookieOf(token) })
    t.equal(Date.parse(after.json<{ expiresAt: string }>().expiresAt), Date.parse(first) + 61_000)
  })

  t.test('private keys need an API key; public keys are the browser\'s own', async (t) => {
    const app = await h.build(t, { PUBLIC_KEYS: 'cart' })
    const { token, handle } = await createSession(app, { data: { role: 'user' } })
    const browser = cookieOf(token)
    const put = await app.inject({ method: 'PUT', url: '/v1/session/data/cart', headers: browser, payload: { value: ['book'] } })
    t.equal(put.statusCode, 204)
    t.same((await app.inject({ method: 'GET', url: '/v1/session/data/cart', headers: browser })).json(), { key: 'cart', value: ['book'] })
    const forbidden = [
      await app.inject({ method: 'GET', url: '/v1/session/data/role', headers: browser }),
      await app.inject({ method: 'HEAD', url: '/v1/session/data/role', headers: browser }),
      await app.inject({ method: 'PUT', url: '/v1/session/data/role', headers: browser, payload: { value: 'admin' } }),
      await app.inject({ method: 'DELETE', url: '/v1/session/data/role', headers: browser }),
      await app.inject({ method: 'PATCH', url: '/v1/session/data', headers: browser, payload: { set: { cart: [], role: 'admin' } } })
    ]
    for (const res of forbidden) t.equal(res.statusCode, 403)
    t.equal(codeOf(forbidden[0] as LightMyRequestResponse), 'forbidden')
    const patch = await app.inject({ method: 'PATCH', url: '/v1/session/data', headers: browser, payload: { set: { cart: ['pen'] } } })
    t.equal(patch.statusCode, 200)
    t.same(patch.json<{ data: unknown }>().data, { cart: ['pen'] })
    const backend = await app.inject({ method: 'PUT', url: '/v1/session/data/role', headers: { ...browser, ...service }, payload: { value: 'admin' } })
    t.equal(backend.statusCode, 204)
    const all = await app.inject({ method: 'GET', url: `/v1/sessions/${handle}`, headers: service })
    t.same(all.json<{ data: unknown }>().data, { role: 'admin', cart: ['pen'] })
  })

  t.test('rotation: new token, same record, old token dead at once', async (t) => {
    const clock = fakeClock()
    const app = await h.build(t, { PUBLIC_KEYS: 'cart', ALLOW_ANONYMOUS: 'true' }, { clock: clock.now })
    const anon = await app.inject({ method: 'POST', url: '/v1/session/anonymous' })
    const oldToken = /^sid=([^;]+)/.exec(setCookie(anon))?.[1] ?? ''
    await app.inject({ method: 'PUT', url: '/v1/session/data/cart', headers: cookieOf(oldToken), payload: { value: ['book'] } })

    const noKey = await app.inject({ method: 'POST', url: '/v1/session/rotate', headers: cookieOf(oldToken) })
    t.equal(noKey.statusCode, 401, 'rotation needs an API key')
    const badBody = await app.inject({ method: 'POST', url: '/v1/session/rotate', headers: { ...cookieOf(oldToken), ...service }, payload: { userId: 'a b' } })
    t.equal(badBody.statusCode, 400)

    const login = await app.inject({ method: 'POST', url: '/v1/session/rotate', headers: { ...cookieOf(oldToken), ...service }, payload: { userId: 'alice' } })
    t.equal(login.statusCode, 201)
    const { token, session } = login.json<{ token: string; session: { handle: string; userId: string; authenticatedAt: string; data: unknown } }>()
    t.not(token, oldToken)
    t.equal(session.handle, handleOf(token))
    t.equal(session.handle[0], handleOf(oldToken)[0], 'the new handle stays in the old one\'s shard')
    t.equal(session.userId, 'alice')
    t.equal(Date.parse(session.authenticatedAt), clock.now())
    t.same(session.data, { cart: ['book'] }, 'the anonymous cart survives login')
    t.match(setCookie(login), new RegExp(`^sid=${token};`))

    const old = await app.inject({ method: 'GET', url: '/v1/session', headers: cookieOf(oldToken) })
    t.equal(old.statusCode, 401)
    t.equal(codeOf(old), 'session_rotated')
    t.equal(old.headers['set-cookie'], undefined, 'a just-rotated cookie is not cleared')
    const oldLogout = await app.inject({ method: 'DELETE', url: '/v1/session', headers: cookieOf(oldToken) })
    t.equal(codeOf(oldLogout), 'session_rotated')
    t.equal(oldLogout.headers['set-cookie'], undefined)
    const fresh = await app.inject({ method: 'GET', url: '/v1/session', headers: cookieOf(token) })
    t.equal(fresh.statusCode, 200)
    clock.advance(60_001)
    const later = await app.inject({ method: 'GET', url: '/v1/session', headers: cookieOf(oldToken) })
    t.equal(codeOf(later), 'session_not_found')
    t.match(setCookie(later), /^sid=; Max-Age=0/)
  })

  t.test('two rotations of one token at once: exactly one wins', async (t) => {
    const app = await h.build(t)
    const { token } = await createSession(app)
    const rotate = () => app.inject({ method: 'POST', url: '/v1/session/rotate', headers: { ...cookieOf(token), ...service } })
    const results = await Promise.all([rotate(), rotate(), rotate()])
    const statuses = results.map((r) => r.statusCode).sort()
    t.same(statuses, [201, 401, 401])
    for (const r of results.filter((r) => r.statusCode === 401)) {
      t.equal(codeOf(r), 'session_rotated')
      t.equal(r.headers['set-cookie'], undefined)
    }
  })

  t.test('a read racing a rotation never clears the new cookie', async (t) => {
    const app = await h.build(t)
    const { token } = await createSession(app)
    const [rotation, ...reads] = await Promise.all([
      app.inject({ method: 'POST', url: '/v1/session/rotate', headers: { ...cookieOf(token), ...service } }),
      ...Array.from({ length: 5 }, () => app.inject({ method: 'GET', url: '/v1/session', headers: cookieOf(token) }))
    ])
    t.equal(rotation?.statusCode, 201)
    for (const read of reads) {
      t.ok(read.statusCode === 200 || codeOf(read) === 'session_rotated', `read answered ${read.statusCode}`)
      t.equal(read.headers['set-cookie'], undefined)
    }
  })

  t.test('logout destroys the session and clears the cookie', async (t) => {
    const app = await h.build(t)
    const { token } = await createSession(app)
    const res = await app.inject({ method: 'DELETE', url: '/v1/session', headers: cookieOf(token) })
    t.equal(res.statusCode, 204)
    t.match(setCookie(res), /^sid=; Max-Age=0/)
    const after = await app.inject({ method: 'GET', url: '/v1/session', headers: cookieOf(token) })
    t.equal(codeOf(after), 'session_not_found')
  })

  t.test('forward-auth: any method, identity headers, 401 otherwise', async (t) => {
    const app = await h.build(t)
    const user = await createSession(app, { userId: 'bob' })
    const anon = await createSession(app)
    for (const method of ['GET', 'POST', 'DELETE'] as const) {
      const res = await app.inject({ method, url: '/v1/auth', headers: { 'x-session-token': user.token } })
      t.equal(res.statusCode, 204, method)
      t.equal(res.headers['x-session-handle'], user.handle)
      t.equal(res.headers['x-user-id'], 'bob')
    }
    const anonymous = await app.inject({ method: 'GET', url: '/v1/auth', headers: cookieOf(anon.token) })
    t.equal(anonymous.statusCode, 204)
    t.equal(anonymous.headers['x-user-id'], undefined)
    const none = await app.inject({ method: 'GET', url: '/v1/auth' })
    t.equal(none.statusCode, 401)
    for (const [type, body] of [['application/x-www-form-urlencoded', 'a=1'], ['application/json', '{broken'], ['text/plain', 'hi']]) {
      const forwarded = await app.inject({ method: 'POST', url: '/v1/auth', headers: { cookie: `sid=${user.token}`, 'content-type': type as string, origin: 'https://elsewhere.example' }, payload: body })
      t.equal(forwarded.statusCode, 204, `a forwarded ${type} body is never read`)
    }
  })

  t.test("forward-auth ignores the Authorization header: it is the client's own, not an API key", async (t) => {
    const app = await h.build(t)
    const user = await createSession(app, { userId: 'bob' })
    for (const authorization of ['Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib2IifQ.c2lnbmF0dXJl', 'Basic Ym9iOnNlY3JldA==', 'garbage', service.authorization]) {
      const res = await app.inject({ method: 'GET', url: '/v1/auth', headers: { ...cookieOf(user.token), authorization } })
      t.equal(res.statusCode, 204, authorization.slice(0, 6))
      t.equal(res.headers['x-user-id'], 'bob')
    }
    const noSession = await app.inject({ method: 'GET', url: '/v1/auth', headers: service })
    t.equal(noSession.statusCode, 401, 'an API key is no credential here')
    t.equal(codeOf(noSession), 'unauthenticated')
    t.match(noSession.json<{ detail: string }>().detail, /session credential/)
  })

  t.test('cross-site writes with the cookie alone are refused; bodies must be JSON', async (t) => {
    const app = await h.build(t, { PUBLIC_KEYS: 'cart', ALLOWED_ORIGINS: 'https://shop.example' })
    const { token } = await createSession(app)
    const put = (headers: Record<string, string>) =>
      app.inject({ method: 'PUT', url: '/v1/session/data/cart', headers: { ...cookieOf(token), ...headers }, payload: { value: 1 } })
    const crossSite = await put({ 'sec-fetch-site': 'cross-site' })
    t.equal(crossSite.statusCode, 403)
    t.equal(codeOf(crossSite), 'forbidden')
    t.equal((await put({ origin: 'https://evil.example' })).statusCode, 403)
    t.equal((await put({ origin: 'http://localhost:80' })).statusCode, 204, 'own origin')
    t.equal((await put({ origin: 'https://shop.example', 'sec-fetch-site': 'same-site' })).statusCode, 204, 'allowed origin')
    t.equal((await put({})).statusCode, 204, 'no Origin (same-origin GET-less clients)')
    const logout = await app.inject({ method: 'DELETE', url: '/v1/session', headers: { ...cookieOf(token), origin: 'https://evil.example' } })
    t.equal(logout.statusCode, 403, 'a cross-site logout is refused too')
    const read = await app.inject({ method: 'GET', url: '/v1/session', headers: { ...cookieOf(token), 'sec-fetch-site': 'cross-site' } })
    t.equal(read.statusCode, 200, 'reads are safe methods')
    const viaHeader = await app.inject({ method: 'PUT', url: '/v1/session/data/cart', headers: { 'x-session-token': token, 'sec-fetch-site': 'cross-site' }, payload: { value: 2 } })
    t.equal(viaHeader.statusCode, 204, 'a header token cannot be forged cross-site')
    const text = await app.inject({ method: 'PUT', url: '/v1/session/data/cart', headers: { ...cookieOf(token), 'content-type': 'text/plain' }, payload: '{"value":1}' })
    t.equal(text.statusCode, 415)
    t.equal(codeOf(text), 'unsupported_media_type')
  })

  t.test('anonymous sessions: off by default, one per browser, never adopting a made-up token, rate-limited', async (t) => {
    const off = await h.build(t)
    const disabled = await off.inject({ method: 'POST', url: '/v1/session/anonymous' })
    t.equal(disabled.statusCode, 403)

    const app = await h.build(t, { ALLOW_ANONYMOUS: 'true', ANONYMOUS_RATE_LIMIT: '3' })
    const first = await app.inject({ method: 'POST', url: '/v1/session/anonymous', headers: { 'user-agent': 'test-browser' } })
    t.equal(first.statusCode, 201)
    const session = first.json<{ session: { handle: string; userId: null; userAgent: string; ip: string }; token?: string }>()
    t.equal(session.token, undefined, 'the token travels only in the cookie')
    t.equal(session.session.userId, null)
    t.equal(session.session.userAgent, 'test-browser')
    t.equal(session.session.ip, '127.0.0.1')
    const token = /^sid=([^;]+)/.exec(setCookie(first))?.[1] ?? ''
    t.equal(handleOf(token), session.session.handle)

    const again = await app.inject({ method: 'POST', url: '/v1/session/anonymous', headers: cookieOf(token) })
    t.equal(again.statusCode, 200)
    t.equal(again.json<{ session: { handle: string } }>().session.handle, session.session.handle)

    const madeUp = newToken()
    const fixation = await app.inject({ method: 'POST', url: '/v1/session/anonymous', headers: cookieOf(madeUp) })
    t.equal(fixation.statusCode, 201)
    t.not(fixation.json<{ session: { handle: string } }>().session.handle, handleOf(madeUp))
    t.notMatch(setCookie(fixation), madeUp)

    const limited = await app.inject({ method: 'POST', url: '/v1/session/anonymous' })
    t.equal(limited.statusCode, 429)
    t.equal(codeOf(limited), 'too_many_requests')
    const otherClient = await app.inject({ method: 'POST', url: '/v1/session/anonymous', remoteAddress: '198.51.100.9' })
    t.equal(otherClient.statusCode, 201, 'the limit is per client address')
  })
})

t.test('signed cookies: forged signatures never reach the store; old-secret cookies are re-issued', async (t) => {
  const [current, previous] = ['c'.repeat(32), 'p'.repeat(32)]
  const config = loadConfig({ ...BASE_ENV, STORE: 'memory', COOKIE_SECRET: `${current},${previous}` })
  const real = createStore(config)
  t.teardown(() => real.close())
  const calls: string[] = []
  const observed = new Proxy(real, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown
      if (typeof value !== 'function') return value
      return (...args: unknown[]) => {
        calls.push(String(prop))
        return (value as (...a: unknown[]) => unknown).apply(target, args)
      }
    }
  })
  const app = await buildApp(config, { store: observed })
  t.teardown(() => app.close())
  const { token } = await createSession(app)

  calls.length = 0
  for (const cookie of [`sid=${token}`, `sid=${sign(token, 'x'.repeat(32))}`, `sid=${token}.bogus`]) {
    const res = await app.inject({ method: 'GET', url: '/v1/session', headers: { cookie } })
    t.equal(res.statusCode, 401)
    t.equal(codeOf(res), 'unauthenticated')
  }
  t.same(calls, [], 'the store saw no call for a bad signature')

  const good = await app.inject({ method: 'GET', url: '/v1/session', headers: { cookie: `sid=${sign(token, current)}` } })
  t.equal(good.statusCode, 200)
  t.equal(good.headers['set-cookie'], undefined)
  const old = await app.inject({ method: 'GET', url: '/v1/session', headers: { cookie: `sid=${sign(token, previous)}` } })
  t.equal(old.statusCode, 200)
  t.ok(setCookie(old).startsWith(`sid=${sign(token, current)};`), 're-issued with the first secret')

  // Verified credentials are remembered by their exact text: nothing else gets through on their account.
  const again = await app.inject({ method: 'GET', url: '/v1/session', headers: { cookie: `sid=${sign(token, previous)}` } })
  t.ok(setCookie(again).startsWith(`sid=${sign(token, current)};`), 'an old-secret cookie seen before is still re-issued')
  t.equal((await app.inject({ method: 'GET', url: '/v1/session', headers: { 'x-session-token': token } })).statusCode, 200, 'the bare token as X-Session-Token')
  calls.length = 0
  const unsigned = await app.inject({ method: 'GET', url: '/v1/session', headers: { cookie: `sid=${token}` } })
  t.equal(codeOf(unsigned), 'unauthenticated', 'the same bare token as a cookie is still unsigned')
  t.same(calls, [], 'and reaches no store')
  t.equal((await app.inject({ method: 'DELETE', url: '/v1/session', headers: { cookie: `sid=${sign(token, current)}` } })).statusCode, 204, 'logout')
  const after = await app.inject({ method: 'GET', url: '/v1/session', headers: { cookie: `sid=${sign(token, current)}` } })
  t.equal(codeOf(after), 'session_not_found', 'a cookie verified before names an ended session like any other')
})
