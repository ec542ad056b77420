import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { admin, createSession, forEachBackend, service } from '../helpers/app.js'
import { fakeClock } from '../helpers/clock.js'

const cookieOf = (token: string) => ({ cookie: `sid=${token}` })
const codeOf = (res: LightMyRequestResponse): string => res.json<{ code: string }>().code
const alive = async (app: FastifyInstance, token: string) =>
  (await app.inject({ method: 'GET', url: '/v1/auth', headers: { 'x-session-token': token } })).statusCode === 204

forEachBackend(t, async (t, h) => {
  t.test('devices: the caller\'s user\'s sessions, the current one marked, no data', async (t) => {
    const clock = fakeClock()
    const app = await h.build(t, {}, { clock: clock.now })
    const phone = await createSession(app, { userId: 'alice', userAgent: 'phone', data: { a: 1 } })
    clock.advance(1000)
    const laptop = await createSession(app, { userId: 'alice', userAgent: 'laptop' })
    await createSession(app, { userId: 'bob' })
    clock.advance(1000)
    const res = await app.inject({ method: 'GET', url: '/v1/session/devices', headers: cookieOf(phone.token) })
    t.equal(res.statusCode, 200)
    const sessions = res.json<{ sessions: { handle: string; current: boolean; userAgent: string; data?: unknown }[] }>().sessions
    t.same(sessions.map((s) => [s.handle, s.current, s.userAgent]), [[phone.handle, true, 'phone'], [laptop.handle, false, 'laptop']], 'most recently seen first')
    t.notOk(sessions.some((s) => 'data' in s))
    const anon = await createSession(app)
    const own = await app.inject({ method: 'GET', url: '/v1/session/devices', headers: cookieOf(anon.token) })
    t.same(own.json<{ sessions: { handle: string; current: boolean }[] }>().sessions.map((s) => [s.handle, s.current]), [[anon.handle, true]])
  })

  t.test('log out other devices, or all of them', async (t) => {
    const app = await h.build(t)
    const [a, b, c] = [await createSession(app, { userId: 'alice' }), await createSession(app, { userId: 'alice' }), await createSession(app, { userId: 'alice' })]
    const bob = await createSession(app, { userId: 'bob' })
    const others = await app.inject({ method: 'DELETE', url: '/v1/session/devices', headers: cookieOf(a.token) })
    t.same(others.json(), { revoked: 2 })
    t.equal(others.headers['set-cookie'], undefined)
    t.ok(await alive(app, a.token))
    t.notOk(await alive(app, b.token))
    t.notOk(await alive(app, c.token))
    t.ok(await alive(app, bob.token))
    const all = await app.inject({ method: 'DELETE', url: '/v1/session/devices?all=true', headers: cookieOf(a.token) })
    t.same(all.json(), { revoked: 1 })
    t.match(String(all.headers['set-cookie']), /^sid=; Max-Age=0/)
    t.notOk(await alive(app, a.token))
    const anon = await createSession(app)
    t.same((await app.inject({ method: 'DELETE', url: '/v1/session/devices', headers: cookieOf(anon.token) })).json(), { revoked: 0 })
    t.same((await app.inject({ method: 'DELETE', url: '/v1/session/devices?all=true', headers: cookieOf(anon.token) })).json(), { revoked: 1 })
    const bad = await app.inject({ method: 'DELETE', url: '/v1/session/devices?all=maybe', headers: cookieOf(bob.token) })
    t.equal(bad.statusCode, 400)
  })

  t.test('log out one other device of the same user only', async (t) => {
    const app = await h.build(t)
    const a = await createSession(app, { userId: 'alice' })
    const b = await createSession(app, { userId: 'alice' })
    const bob = await createSession(app, { userId: 'bob' })
    for (const target of [bob.handle, a.handle, 'A'.repeat(43)]) {
      const res = await app.inject({ method: 'DELETE', url: `/v1/session/devices/${target}`, headers: cookieOf(a.token) })
      t.equal(res.statusCode, 404)
      t.equal(codeOf(res), 'not_found')
    }
    t.ok(await alive(app, bob.token))
    const res = await app.inject({ method: 'DELETE', url: `/v1/session/devices/${b.handle}`, headers: cookieOf(a.token) })
    t.equal(res.statusCode, 204)
    t.notOk(await alive(app, b.token))
    t.ok(await alive(app, a.token))
  })

  t.test('admin: list a user\'s sessions and log them out everywhere', async (t) => {
    const app = await h.build(t)
    const keep = await createSession(app, { userId: 'carol' })
    const other = await createSession(app, { userId: 'carol' })
    const list = await app.inject({ method: 'GET', url: '/v1/users/carol/sessions', headers: admin })
    t.equal(list.statusCode, 200)
    t.same(list.json<{ sessions: { handle: string }[] }>().sessions.map((s) => s.handle).sort(), [keep.handle, other.handle].sort())
    const asService = await app.inject({ method: 'GET', url: '/v1/users/carol/sessions', headers: service })
    t.equal(asService.statusCode, 403)
    t.equal(codeOf(asService), 'forbidden')
    t.equal((await app.inject({ method: 'DELETE', url: '/v1/users/carol/sessions', headers: service })).statusCode, 403)
    const revoke = await app.inject({ method: 'DELETE', url: `/v1/users/carol/sessions?except=${keep.handle}`, headers: admin })
    t.same(revoke.json(), { revoked: 1 })
    t.ok(await alive(app, keep.token))
    t.notOk(await alive(app, other.token))
    t.same((await app.inject({ method: 'GET', url: '/v1/users/nobody/sessions', headers: admin })).json(), { sessions: [] })
    t.equal((await app.inject({ method: 'GET', url: '/v1/users/a%20b/sessions', headers: admin })).statusCode, 400)
  })

  t.test('logout-all racing logins: none created before survives, none created after is touched', async (t) => {
    const app = await h.build(t)
    const before = await Promise.all(Array.from({ length: 20 }, () => createSession(app, { userId: 'dave' })))
    const during = Promise.all(Array.from({ length: 10 }, () => createSession(app, { userId: 'dave' })))
    const revoke = await app.inject({ method: 'DELETE', url: '/v1/users/dave/sessions', headers: admin })
    const after = await createSession(app, { userId: 'dave' })
    await during
    t.ok(revoke.json<{ revoked: number }>().revoked >= 20)
    for (const s of before) t.notOk(await alive(app, s.token))
    t.ok(await alive(app, after.token))
  })

  t.test('MAX_SESSIONS_PER_USER ends the least recently used session', async (t) => {
    const clock = fakeClock()
    const app = await h.build(t, { MAX_SESSIONS_PER_USER: '2' }, { clock: clock.now })
    const first = await createSession(app, { userId: 'erin' })
    clock.advance(1000)
    const second = await createSession(app, { userId: 'erin' })
    clock.advance(1000)
    t.ok(await alive(app, first.token), 'using the first makes the second the least recently used')
    clock.advance(1000)
    const third = await createSession(app, { userId: 'erin' })
    t.ok(await alive(app, first.token))
    t.notOk(await alive(app, second.token))
    t.ok(await alive(app, third.token))
  })

  t.test('sessions by indexed key: list with stable paging, revoke, count', async (t) => {
    const app = await h.build(t, { INDEXED_KEYS: 'tenant,plan' })
    const acme = await Promise.all(Array.from({ length: 7 }, () => createSession(app, { data: { tenant: 'acme', plan: 'pro' } })))
    const globex = await Promise.all(Array.from({ length: 3 }, () => createSession(app, { data: { tenant: 'globex' } })))
    await createSession(app)

    const seen: string[] = []
    let cursor: string | null = null
    do {
      const res: LightMyRequestResponse = await app.inject({ method: 'GET', url: `/v1/sessions?key=tenant&value=acme&limit=3${cursor === null ? '' : `&cursor=${cursor}`}`, headers: admin })
      t.equal(res.statusCode, 200)
      const page = res.json<{ sessions: { handle: string; data?: unknown }[]; nextCursor: string | null }>()
      t.ok(page.sessions.length <= 3)
      t.notOk(page.sessions.some((s) => 'data' in s))
      seen.push(...page.sessions.map((s) => s.handle))
      cursor = page.nextCursor
    } while (cursor !== null)
    t.same(seen, acme.map((s) => s.handle).sort(), 'every session once, in handle order')

    const stats = await app.inject({ method: 'GET', url: '/v1/stats/sessions?by=tenant', headers: admin })
    t.strictSame(stats.json(), { total: 11, by: { acme: 7, globex: 3 }, without: 1 })
    t.strictSame((await app.inject({ method: 'GET', url: '/v1/stats/sessions', headers: admin })).json(), { total: 11, by: {} }, 'no without without an entry')

    for (const url of ['/v1/sessions?key=color&value=red', '/v1/sessions?key=tenant', '/v1/sessions?key=tenant&value=acme&limit=0', '/v1/sessions?key=tenant&value=acme&cursor=nope', '/v1/stats/sessions?by=color']) {
      const res = await app.inject({ method: 'GET', url, headers: admin })
      t.equal(res.statusCode, 400, url)
      t.equal(codeOf(res), 'validation_failed')
    }
    t.equal((await app.inject({ method: 'GET', url: '/v1/sessions?key=tenant&value=acme', headers: service })).statusCode, 403)

    const revoke = await app.inject({ method: 'DELETE', url: '/v1/sessions?key=tenant&value=acme', headers: admin })
    t.same(revoke.json(), { revoked: 7 })
    for (const s of acme) t.notOk(await alive(app, s.token))
    for (const s of globex) t.ok(await alive(app, s.token))
    t.strictSame((await app.inject({ method: 'GET', url: '/v1/stats/sessions?by=tenant', headers: admin })).json(), { total: 4, by: { globex: 3 }, without: 1 })
  })

  t.test('the recall: which carts hold SKU-1, page through them, count per product, end them', async (t) => {
    const app = await h.build(t, { INDEXED_KEYS: 'cart[].sku,tags[]', PUBLIC_KEYS: 'cart', MAX_INDEX_VALUES: '4' })
    const recalled = await Promise.all(Array.from({ length: 5 }, (_, i) => createSession(app, { data: { cart: [{ sku: 'SKU-1', qty: 1 }, { sku: `SKU-${i + 10}` }] } })))
    const other = await createSession(app, { data: { cart: [{ sku: 'SKU-2' }] } })
    await createSession(app)
    const q = (query: string): string => `/v1/sessions?${new URLSearchParams(query).toString()}`

    const seen: string[] = []
    let cursor: string | null = null
    do {
      const res: LightMyRequestResponse = await app.inject({ method: 'GET', url: q(`key=cart[].sku&value=SKU-1&limit=2${cursor === null ? '' : `&cursor=${cursor}`}`), headers: admin })
      t.equal(res.statusCode, 200, res.body)
      const page = res.json<{ sessions: { handle: string }[]; nextCursor: string | null }>()
      seen.push(...page.sessions.map((s) => s.handle))
      cursor = page.nextCursor
    } while (cursor !== null)
    t.same(seen, recalled.map((s) => s.handle).sort(), 'every cart holding SKU-1 once, in handle order')

    const stats = await app.inject({ method: 'GET', url: `/v1/stats/sessions?by=${encodeURIComponent('cart[].sku')}`, headers: admin })
    t.strictSame(stats.json(), { total: 7, by: { 'SKU-1': 5, 'SKU-10': 1, 'SKU-11': 1, 'SKU-12': 1, 'SKU-13': 1, 'SKU-14': 1, 'SKU-2': 1 }, without: 1 }, 'live carts per product, and sessions with none')

    // A browser's own cart: a public key, indexed by a collection entry, bounded by MAX_INDEX_VALUES.
    const own = { 'x-session-token': other.token, 'content-type': 'application/json' }
    const tooMany = await app.inject({ method: 'PUT', url: '/v1/session/data/cart', headers: own, payload: { value: [1, 2, 3, 4, 5].map((n) => ({ sku: `S${n}` })) } })
    t.equal(tooMany.statusCode, 413, 'five distinct SKUs is over MAX_INDEX_VALUES=4')
    t.equal(codeOf(tooMany), 'payload_too_large')
    t.match(tooMany.json(), { detail: /cart\[\]\.sku.*MAX_INDEX_VALUES/ })
    t.same((await app.inject({ method: 'GET', url: '/v1/session/data/cart', headers: own })).json(), { key: 'cart', value: [{ sku: 'SKU-2' }] }, 'the cart is unchanged')

    for (const url of [q('key=cart[]&value=SKU-1'), q('key=cart&value=SKU-1'), '/v1/stats/sessions?by=cart']) {
      const res = await app.inject({ method: 'GET', url, headers: admin })
      t.equal(res.statusCode, 400, `${url} names no INDEXED_KEYS entry`)
      t.equal(codeOf(res), 'validation_failed')
    }

    const revoke = await app.inject({ method: 'DELETE', url: q('key=cart[].sku&value=SKU-1'), headers: admin })
    t.same(revoke.json(), { revoked: 5 })
    for (const s of recalled) t.notOk(await alive(app, s.token))
    t.ok(await alive(app, other.token))
    t.strictSame((await app.inject({ method: 'GET', url: `/v1/stats/sessions?by=${encodeURIComponent('cart[].sku')}`, headers: admin })).json(), { total: 2, by: { 'SKU-2': 1 }, without: 1 })
  })
})
