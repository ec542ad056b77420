/**
 * @sessiond/client against the real service on a loopback port, once per
 * store: every method, its typed result, its Set-Cookie, and its errors.
 */
import t, { type Test } from 'tap'
import { createSessionClient, isSessiondError, SessiondError, type Credential, type SessionClient } from '../../packages/client/src/index.js'
import { forEachBackend } from '../helpers/app.js'
import { sidCookie, startService } from './service.js'

const HANDLE = /^[A-Za-z0-9_-]{43}$/

/** The SessiondError a call fails with. */
async function failure(t: Test, call: Promise<unknown>): Promise<SessiondError> {
  try {
    await call
  } catch (err) {
    t.type(err, SessiondError)
    if (err instanceof SessiondError) return err
  }
  t.fail('expected a SessiondError')
  throw new Error('unreachable')
}

async function loggedIn(client: SessionClient, userId: string, userAgent = 'test-agent'): Promise<{ credential: Credential; handle: string; token: string }> {
  const created = await client.create({ userId, userAgent })
  return { credential: { cookie: sidCookie(created.setCookie) }, handle: created.session.handle, token: created.token }
}

forEachBackend(t, async (t, h) => {
  t.test('create: token, typed session, version and Set-Cookie to relay', async (t) => {
    const { client } = await startService(t, h)
    const created = await client.create<{ cart: string[] }>({ userId: 'alice', data: { cart: ['book'] }, userAgent: 'Firefox', ip: '203.0.113.7', idleTtl: 60 })
    t.match(created.token, HANDLE)
    t.match(created.session, { userId: 'alice', version: 1, userAgent: 'Firefox', ip: '203.0.113.7', data: { cart: ['book'] } })
    t.match(created.session.handle, HANDLE)
    t.type(created.session.authenticatedAt, 'string')
    t.equal(created.version, 1)
    t.equal(created.setCookie.length, 1)
    t.match(created.setCookie[0], new RegExp(`^sid=${created.token}; Max-Age=\\d+; Path=/; HttpOnly; SameSite=Lax$`))
    const anonymous = await client.create()
    t.equal(anonymous.session.userId, null)
    t.equal(anonymous.session.authenticatedAt, null)
    const bad = await failure(t, client.create({ idleTtl: 0 }))
    t.match(bad, { status: 400, code: 'validation_failed', detail: /idleTtl/ })
  })

  t.test('session: by cookie header (among other cookies), by token and by handle', async (t) => {
    const { client } = await startService(t, h)
    const created = await client.create({ userId: 'alice', data: { secret: 1, 'prefs.theme': 'dark' } })
    const byCookie = await client.session({ cookie: `theme=dark; ${sidCookie(created.setCookie)}; lang=en` })
    t.same(byCookie.session.data, { secret: 1, 'prefs.theme': 'dark' }, 'the API key sees private keys too')
    t.equal(byCookie.version, 1)
    t.same(byCookie.setCookie, [])
    const byToken = await client.session({ token: created.token })
    t.equal(byToken.session.handle, created.session.handle)
    await new Promise((resolve) => setTimeout(resolve, 5))
    const byHandle = await client.session<{ secret: number }>({ handle: created.session.handle })
    t.equal(byHandle.session.data.secret, 1)
    t.equal(byHandle.session.lastSeenAt, byToken.session.lastSeenAt, 'the handle view never counts as a use')
  })

  t.test('get: typed values, a missing key, an ended session', async (t) => {
    const { client } = await startService(t, h)
    const created = await client.create({ data: { cart: ['book', 'pen'], n: 3 } })
    const cred = { cookie: sidCookie(created.setCookie) }
    const cart = await client.get<string[]>(cred, 'cart')
    t.same(cart, { found: true, value: ['book', 'pen'], version: 1, setCookie: [] })
    if (cart.found) t.equal(cart.value.length, 2)
    t.same(await client.get(cred, 'nope'), { found: false, value: undefined, version: undefined, setCookie: [] })
    t.same((await client.get<number>({ handle: created.session.handle }, 'n')).value, 3)
    t.same((await client.get({ handle: created.session.handle }, 'nope')).found, false)
    t.same((await client.get({ token: created.token }, 'n')).value, 3)

    await client.destroy(created.session.handle)
    const ended = await failure(t, client.get(cred, 'cart'))
    t.match(ended, { status: 401, code: 'session_not_found' })
    t.match(ended.setCookie[0], /^sid=; Max-Age=0/, 'the cleared cookie is there to relay')
    t.match(await failure(t, client.get({ handle: created.session.handle }, 'cart')), { status: 404, code: 'session_not_found' })
    t.match(await failure(t, client.get({ token: 'A'.repeat(43) }, 'cart')), { status: 401, code: 'session_not_found', setCookie: [] })
    t.match(await failure(t, client.get(cred, 'bad key')), { status: 400, code: 'validation_failed' })
  })

  t.test('has: HEAD, with the exact error code on failure', async (t) => {
    const { client } = await startService(t, h)
    const created = await client.create({ data: { cart: [] } })
    const cred = { cookie: sidCookie(created.setCookie) }
    t.same(await client.has(cred, 'cart'), { found: true, version: 1, setCookie: [] })
    t.same(await client.has(cred, 'nope'), { found: false, version: undefined, setCookie: [] })
    t.same((await client.has({ handle: created.session.handle }, 'cart')).found, true)
    t.same((await client.has({ handle: created.session.handle }, 'nope')).found, false)
    t.match(await failure(t, client.has(cred, 'bad key')), { status: 400, code: 'validation_failed', detail: /key/ })
    await client.destroy(created.session.handle)
    t.same((await client.has({ handle: created.session.handle }, 'cart')).found, false, 'by handle an ended session has nothing')
    const ended = await failure(t, client.has(cred, 'cart'))
    t.match(ended, { status: 401, code: 'session_not_found' })
    t.match(ended.setCookie[0], /^sid=; Max-Age=0/)
  })

  t.test('set: versions, If-Match, limits', async (t) => {
    const { client } = await startService(t, h, { MAX_VALUE_BYTES: '64' })
    const created = await client.create()
    const cred = { token: created.token }
    const first = await client.set(cred, 'cart', ['book'])
    t.same(first, { version: 2, setCookie: [] })
    t.same((await client.set(cred, 'cart', ['book', 'pen'], { ifMatch: 2 })).version, 3)
    const stale = await failure(t, client.set(cred, 'cart', [], { ifMatch: 2 }))
    t.match(stale, { status: 412, code: 'precondition_failed' })
    t.same((await client.get(cred, 'cart')).value, ['book', 'pen'], 'nothing written on 412')
    t.same((await client.set({ handle: created.session.handle }, 'note', { a: [1, null, true] }, { ifMatch: '*' })).version, 4)
    t.same((await client.get({ handle: created.session.handle }, 'note')).value, { a: [1, null, true] })
    t.match(await failure(t, client.set(cred, 'big', 'x'.repeat(100))), { status: 413, code: 'payload_too_large' })
  })

  t.test('del: idempotent, If-Match, by handle', async (t) => {
    const { client } = await startService(t, h)
    const created = await client.create({ data: { a: 1, b: 2 } })
    const cred = { cookie: sidCookie(created.setCookie) }
    t.same(await client.del(cred, 'a'), { version: 2, setCookie: [] })
    t.same((await client.del(cred, 'a')).version, 2, 'a missing key changes nothing')
    t.match(await failure(t, client.del(cred, 'b', { ifMatch: 1 })), { code: 'precondition_failed' })
    t.same((await client.del({ handle: created.session.handle }, 'b', { ifMatch: 2 })).version, 3)
    t.same((await client.session(cred)).session.data, {})
  })

  t.test('patch: an atomic batch, conflicts, If-Match', async (t) => {
    const { client } = await startService(t, h)
    const created = await client.create({ data: { n: 1, gone: true, word: 'x' } })
    const cred = { token: created.token }
    const patched = await client.patch<{ n: number; cart: string[] }>(cred, { set: { cart: ['book'] }, del: ['gone'], incr: { n: 2 } }, { ifMatch: 1 })
    t.same(patched.session.data, { n: 3, word: 'x', cart: ['book'] })
    t.equal(patched.version, 2)
    t.equal(patched.session.version, 2)
    t.match(await failure(t, client.patch(cred, { incr: { word: 1 } })), { status: 409, code: 'conflict' })
    t.match(await failure(t, client.patch(cred, { set: { n: 0 } }, { ifMatch: 1 })), { status: 412, code: 'precondition_failed' })
    t.match(await failure(t, client.patch(cred, {})), { status: 400, code: 'validation_failed' })
    t.same((await client.patch({ handle: created.session.handle }, { incr: { n: -3 } })).session.data.n, 0)
  })

  t.test('the keys "." and "..", which URL paths cannot carry, go through whole-session routes', async (t) => {
    const { client } = await startService(t, h)
    const created = await client.create()
    for (const ref of [{ token: created.token }, { handle: created.session.handle }]) {
      for (const key of ['.', '..']) {
        t.same((await client.get(ref, key)).found, false)
        t.same((await client.has(ref, key)).found, false)
        const written = await client.set(ref, key, key.length)
        t.same(await client.get(ref, key), { found: true, value: key.length, version: written.version, setCookie: [] })
        t.same(await client.has(ref, key), { found: true, version: written.version, setCookie: [] })
        const deleted = await client.del(ref, key, { ifMatch: written.version })
        t.equal(deleted.version, written.version + 1)
        t.same((await client.has(ref, key)).found, false)
      }
    }
  })

  t.test('rotate: new token, data kept, user bound, the old token answers session_rotated', async (t) => {
    const { client } = await startService(t, h)
    const created = await client.create({ data: { cart: ['book'] } })
    const old = { cookie: sidCookie(created.setCookie) }
    const rotated = await client.rotate<{ cart: string[] }>(old, { userId: 'alice' })
    t.not(rotated.token, created.token)
    t.match(rotated.session, { userId: 'alice', data: { cart: ['book'] } })
    t.type(rotated.session.authenticatedAt, 'string')
    t.equal(rotated.version, rotated.session.version)
    t.equal(sidCookie(rotated.setCookie), `sid=${rotated.token}`)
    const stale = await failure(t, client.session(old))
    t.match(stale, { status: 401, code: 'session_rotated', setCookie: [] }, 'the browser\'s new cookie is not cleared')
    const again = await client.rotate({ token: rotated.token })
    t.equal(again.session.userId, 'alice', 'a rotation without userId keeps the user')
  })

  t.test('destroy by handle and logout by credential', async (t) => {
    const { client } = await startService(t, h)
    const a = await client.create()
    t.same(await client.destroy(a.session.handle), { setCookie: [] })
    t.match(await failure(t, client.destroy(a.session.handle)), { status: 404, code: 'session_not_found' })
    const b = await client.create()
    const out = await client.logout({ cookie: sidCookie(b.setCookie) })
    t.match(out.setCookie[0], /^sid=; Max-Age=0/)
    t.match(await failure(t, client.session({ token: b.token })), { code: 'session_not_found' })
    t.match(await failure(t, client.logout({ token: b.token })), { status: 401, code: 'session_not_found' })
  })

  t.test('auth: the forward-auth identity', async (t) => {
    const { client } = await startService(t, h)
    const alice = await loggedIn(client, 'alice')
    t.same(await client.auth(alice.credential), { handle: alice.handle, userId: 'alice', setCookie: [] })
    const anonymous = await client.create()
    t.same((await client.auth({ token: anonymous.token })).userId, null)
    t.match(await failure(t, client.auth({ cookie: 'sid=nonsense' })), { status: 401, code: 'unauthenticated' })
  })

  t.test('devices, log out one device, log out the others, log out all', async (t) => {
    const { client } = await startService(t, h)
    const laptop = await loggedIn(client, 'alice', 'laptop')
    const phone = await loggedIn(client, 'alice', 'phone')
    const tablet = await loggedIn(client, 'alice', 'tablet')
    await loggedIn(client, 'bob')
    const devices = await client.devices(laptop.credential)
    t.same(devices.sessions.map((d) => [d.userAgent, d.current]).sort(), [['laptop', true], ['phone', false], ['tablet', false]])
    t.notOk(devices.sessions.some((d) => 'data' in d))

    t.same(await client.logoutDevice(laptop.credential, tablet.handle), { setCookie: [] })
    t.match(await failure(t, client.logoutDevice(laptop.credential, laptop.handle)), { status: 404, code: 'not_found' })
    t.same((await client.devices(phone.credential)).sessions.length, 2)

    t.same(await client.logoutOtherDevices(laptop.credential), { revoked: 1, setCookie: [] })
    t.match(await failure(t, client.devices(phone.credential)), { code: 'session_not_found' })
    const all = await client.logoutOtherDevices(laptop.credential, { all: true })
    t.equal(all.revoked, 1)
    t.match(all.setCookie[0], /^sid=; Max-Age=0/)
    t.match(await failure(t, client.auth(laptop.credential)), { code: 'session_not_found' })
  })

  t.test('admin: a user\'s sessions, and logging them out everywhere', async (t) => {
    const { client, admin } = await startService(t, h)
    const keep = await loggedIn(client, 'carol')
    const other = await loggedIn(client, 'carol')
    const listed = await admin.userSessions('carol')
    t.same(listed.sessions.map((s) => s.handle).sort(), [keep.handle, other.handle].sort())
    t.same(listed.setCookie, [])
    t.same((await admin.userSessions('nobody')).sessions, [])
    t.match(await failure(t, client.userSessions('carol')), { status: 403, code: 'forbidden' }, 'needs the admin key')
    t.same(await admin.logoutUser('carol', { except: keep.handle }), { revoked: 1, setCookie: [] })
    t.same((await admin.userSessions('carol')).sessions.map((s) => s.handle), [keep.handle])
    t.equal((await admin.logoutUser('carol')).revoked, 1)
    t.match(await failure(t, admin.userSessions('..')), { status: 0, code: 'validation_failed' })
    t.same((await admin.userSessions('a/b?c#d')).sessions, [], 'a userId is percent-encoded')
  })

  t.test('admin: query by index with paging, queryAll, revoke by index, stats', async (t) => {
    const { client, admin } = await startService(t, h)
    const acme = await Promise.all(Array.from({ length: 5 }, () => client.create({ data: { tenant: 'acme' } })))
    await client.create({ data: { tenant: 'globex' } })
    await client.create()
    const first = await admin.query({ key: 'tenant', value: 'acme', limit: 2 })
    t.equal(first.sessions.length, 2)
    t.type(first.nextCursor, 'string')
    const seen = [...first.sessions.map((s) => s.handle)]
    let cursor = first.nextCursor
    while (cursor !== null) {
      const page = await admin.query({ key: 'tenant', value: 'acme', limit: 2, cursor })
      seen.push(...page.sessions.map((s) => s.handle))
      cursor = page.nextCursor
    }
    const expected = acme.map((c) => c.session.handle).sort()
    t.same(seen, expected)
    const all: string[] = []
    for await (const s of admin.queryAll({ key: 'tenant', value: 'acme', pageSize: 2 })) all.push(s.handle)
    t.same(all, expected)
    t.match(await failure(t, admin.query({ key: 'color', value: 'red' })), { status: 400, code: 'validation_failed', detail: /INDEXED_KEYS/ })

    t.strictSame(await admin.stats({ by: 'tenant' }), { total: 7, by: { acme: 5, globex: 1 }, without: 1, setCookie: [] })
    t.strictSame(await admin.stats(), { total: 7, by: {}, without: undefined, setCookie: [] }, 'without comes with by only')
    t.same(await admin.revokeByIndex({ key: 'tenant', value: 'acme' }), { revoked: 5, setCookie: [] })
    t.same((await admin.stats({ by: 'tenant' })).total, 2)
    t.match(await failure(t, client.stats()), { status: 403, code: 'forbidden' })
  })

  t.test('a wrong API key is unauthenticated everywhere', async (t) => {
    const { url } = await startService(t, h)
    const wrong = createSessionClient({ baseUrl: url, apiKey: 'not-a-key-0123456789' })
    const err = await failure(t, wrong.create())
    t.match(err, { status: 401, code: 'unauthenticated', title: 'Unauthenticated' })
    t.ok(isSessiondError(err, 'unauthenticated'))
    t.notOk(isSessiondError(err, 'forbidden'))
    t.notMatch(err.message, /not-a-key/, 'the key never appears in errors')
  })
})

forEachBackend(t, async (t, h) => {
  t.test('admin events: eventPage pages with a cursor; events() long-polls page after page; 404 with events off', async (t) => {
    const { client, admin } = await startService(t, h, { EVENTS: 'true' })
    const start = await admin.eventPage({ after: 'now' })
    t.strictSame(start.events, [])
    const one = await client.create({ userId: 'ev' })
    const page = await admin.eventPage({ after: start.nextCursor, limit: 10 })
    t.strictSame(page.events.map((e) => [e.type, e.handle, e.actor]), [['session.created', one.session.handle, 'backend']])
    const pages = admin.events({ after: page.nextCursor, wait: 5 })
    const next = pages.next()
    await new Promise((resolve) => setTimeout(resolve, 200))
    await admin.logoutUser('ev')
    const woken = await next
    t.strictSame(woken.value?.events.map((e) => [e.type, e.reason, e.actor]), [['session.ended', 'revoked', 'ops']], 'the next page as it happens')
    await pages.return(undefined as never)
    t.match(await failure(t, client.eventPage()), { status: 403, code: 'forbidden' }, 'a service key is not enough')
    t.match(await failure(t, admin.eventPage({ after: 'bad' })), { status: 400, code: 'validation_failed' })
    const off = await startService(t, h)
    t.match(await failure(t, off.admin.eventPage()), { status: 404, code: 'not_found' })
  })
})
