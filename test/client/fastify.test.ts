/**
 * @sessiond/client/fastify in a consumer app: the consumer is driven with inject, and
 * it talks to the real service (memory and Redis) over loopback HTTP.
 */
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { createSessionClient, isSessiondError, type SessionClient } from '../../packages/client/src/index.js'
import sessiond, { type SessiondPluginOptions } from '../../packages/client/src/fastify.js'
import { forEachBackend, SERVICE_KEY } from '../helpers/app.js'
import { startService } from './service.js'

/** A consumer app with a few routes over request.session; errors answer `{ code }` with sessiond's status. */
async function consumer(t: Test, options: SessiondPluginOptions): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(sessiond, options)
  app.setErrorHandler((err, _request, reply) => {
    if (isSessiondError(err)) return reply.code(err.status === 0 ? 502 : err.status).send({ code: err.code })
    return reply.code(500).send({ message: err instanceof Error ? err.message : String(err) })
  })
  app.get('/get/:key', async (request) => ({ value: (await request.session.get((request.params as { key: string }).key)) ?? null }))
  app.get('/has/:key', async (request) => ({ has: await request.session.has((request.params as { key: string }).key) }))
  app.get('/load', async (request) => ({ session: await request.session.load() }))
  app.put('/set/:key', async (request) => {
    const ifMatch = request.headers['if-match']
    const version = await request.session.set((request.params as { key: string }).key, request.body, ifMatch === undefined ? {} : { ifMatch: Number(ifMatch) })
    return { version }
  })
  app.delete('/del/:key', async (request) => {
    await request.session.del((request.params as { key: string }).key)
    return { ok: true }
  })
  app.post('/login', async (request) => ({ session: await request.session.rotate((request.body as { user: string }).user) }))
  app.post('/rotate', async (request) => ({ session: await request.session.rotate() }))
  app.post('/logout', async (request) => {
    await request.session.destroy()
    return { credential: request.session.credential }
  })
  app.get('/devices', async (request) => ({ devices: (await request.session.call((c, credential) => c.devices(credential)))?.sessions ?? null }))
  app.get('/untouched', async (request) => ({ credential: request.session.credential }))
  app.post('/ensure', async (request) => {
    // Three waits in one request: one session.
    const [a, b, c] = await Promise.all([request.session.ensure(), request.session.ensure(), request.session.ensure()])
    return { handles: [a.handle, b.handle, c.handle], ended: request.session.ended }
  })
  app.post('/append/:key', async (request) => {
    const attempts = request.headers['x-attempts']
    return request.session.update<number[]>((request.params as { key: string }).key, (list) => [...(list ?? []), request.body as number], attempts === undefined ? {} : { attempts: Number(attempts) })
  })
  t.teardown(() => app.close())
  return app
}

const setCookies = (res: LightMyRequestResponse): string[] => {
  const header = res.headers['set-cookie']
  return header === undefined ? [] : Array.isArray(header) ? header : [header]
}
const sid = (res: LightMyRequestResponse): string => {
  const found = setCookies(res).find((c) => c.startsWith('sid='))
  if (found === undefined) throw new Error(`no sid in ${JSON.stringify(setCookies(res))}`)
  return found.split(';')[0] ?? ''
}

/** The client with every method call recorded. */
function counting(client: SessionClient): { client: SessionClient; calls: string[] } {
  const calls: string[] = []
  const proxy = new Proxy(client, {
    get(target, property: keyof SessionClient) {
      const value = target[property]
      // fastify's decorate() looks for getter/setter properties: only method calls count.
      if (typeof value === 'function') calls.push(property)
      return value
    }
  })
  return { client: proxy, calls }
}

forEachBackend(t, async (t, h) => {
  t.test('lazy: a request without a session never calls sessiond and reads as empty', async (t) => {
    const service = await startService(t, h)
    const { client, calls } = counting(service.client)
    const app = await consumer(t, { client })
    for (const url of ['/get/cart', '/has/cart', '/load', '/devices', '/untouched']) {
      const res = await app.inject({ url })
      t.equal(res.statusCode, 200, url)
      t.same(setCookies(res), [])
    }
    t.same((await app.inject({ url: '/get/cart' })).json(), { value: null })
    t.same((await app.inject({ url: '/has/cart' })).json(), { has: false })
    t.same((await app.inject({ url: '/load' })).json(), { session: null })
    t.same((await app.inject({ method: 'DELETE', url: '/del/cart' })).json(), { ok: true })
    t.same((await app.inject({ method: 'POST', url: '/logout' })).json(), { credential: null })
    t.same((await app.inject({ url: '/get/cart', headers: { cookie: 'sid=garbage; other=1' } })).json(), { value: null }, 'a cookie that cannot be a token is no session')
    t.same(calls, [], 'sessiond was never asked')
    const used = await app.inject({ url: '/untouched', headers: { cookie: `sid=${'A'.repeat(43)}` } })
    t.same(used.json(), { credential: { cookie: `sid=${'A'.repeat(43)}` } })
    t.same(calls, [], 'a credential alone asks nothing')
  })

  t.test('the first write creates the session and relays its cookie; later requests forward it', async (t) => {
    const service = await startService(t, h)
    const app = await consumer(t, { baseUrl: service.url, apiKey: SERVICE_KEY })
    const first = await app.inject({ method: 'PUT', url: '/set/cart', payload: ['book'], headers: { 'user-agent': 'Shopper/1.0' } })
    t.same(first.json(), { version: 1 })
    t.match(setCookies(first), [/^sid=[A-Za-z0-9_-]{43}; Max-Age=\d+; Path=\/; HttpOnly; SameSite=Lax$/])
    const cookie = `theme=dark; ${sid(first)}`
    t.same((await app.inject({ url: '/get/cart', headers: { cookie } })).json(), { value: ['book'] })
    t.same((await app.inject({ url: '/has/cart', headers: { cookie } })).json(), { has: true })
    const second = await app.inject({ method: 'PUT', url: '/set/cart', payload: ['book', 'pen'], headers: { cookie } })
    t.same(second.json(), { version: 2 })
    t.same(setCookies(second), [], 'no cookie to relay on writes to an existing session')
    const loaded = (await app.inject({ url: '/load', headers: { cookie } })).json<{ session: { userAgent: string; ip: string; data: unknown } }>().session
    t.match(loaded, { userAgent: 'Shopper/1.0', ip: '127.0.0.1', data: { cart: ['book', 'pen'] } })
    t.same((await app.inject({ method: 'DELETE', url: '/del/cart', headers: { cookie } })).json(), { ok: true })
    t.same((await app.inject({ url: '/has/cart', headers: { cookie } })).json(), { has: false })
  })

  t.test('If-Match through set', async (t) => {
    const service = await startService(t, h)
    const app = await consumer(t, { baseUrl: service.url, apiKey: SERVICE_KEY })
    const none = await app.inject({ method: 'PUT', url: '/set/n', payload: [1], headers: { 'if-match': '1' } })
    t.equal(none.statusCode, 412, 'If-Match with no session')
    const cookie = sid(await app.inject({ method: 'PUT', url: '/set/n', payload: [1] }))
    t.same((await app.inject({ method: 'PUT', url: '/set/n', payload: [2], headers: { cookie, 'if-match': '1' } })).json(), { version: 2 })
    const stale = await app.inject({ method: 'PUT', url: '/set/n', payload: [3], headers: { cookie, 'if-match': '1' } })
    t.equal(stale.statusCode, 412)
    t.same(stale.json(), { code: 'precondition_failed' })
  })

  t.test('rotate on login: new cookie, data kept, user bound; the old cookie is session_rotated', async (t) => {
    const service = await startService(t, h)
    const app = await consumer(t, { baseUrl: service.url, apiKey: SERVICE_KEY })
    const anonymous = sid(await app.inject({ method: 'PUT', url: '/set/cart', payload: ['book'] }))
    const login = await app.inject({ method: 'POST', url: '/login', payload: { user: 'alice' }, headers: { cookie: anonymous } })
    t.match(login.json(), { session: { userId: 'alice', data: { cart: ['book'] } } })
    const fresh = sid(login)
    t.not(fresh, anonymous)
    t.same((await app.inject({ url: '/get/cart', headers: { cookie: fresh } })).json(), { value: ['book'] })
    const stale = await app.inject({ url: '/get/cart', headers: { cookie: anonymous } })
    t.equal(stale.statusCode, 401)
    t.same(stale.json(), { code: 'session_rotated' })
    t.same(setCookies(stale), [], 'the browser\'s new cookie is left alone')
    const again = await app.inject({ method: 'POST', url: '/rotate', headers: { cookie: fresh } })
    t.match(again.json(), { session: { userId: 'alice' } })
    t.not(sid(again), fresh)
  })

  t.test('rotate without a session logs in with a new one', async (t) => {
    const service = await startService(t, h)
    const app = await consumer(t, { baseUrl: service.url, apiKey: SERVICE_KEY })
    const login = await app.inject({ method: 'POST', url: '/login', payload: { user: 'bob' }, headers: { 'user-agent': 'Phone' } })
    t.match(login.json(), { session: { userId: 'bob', userAgent: 'Phone', version: 1 } })
    t.same((await service.admin.userSessions('bob')).sessions.length, 1)
    t.ok(sid(login))
  })

  t.test('destroy relays the cleared cookie; a cookie naming an ended session reads as none and is cleared', async (t) => {
    const service = await startService(t, h)
    const app = await consumer(t, { baseUrl: service.url, apiKey: SERVICE_KEY })
    const cookie = sid(await app.inject({ method: 'PUT', url: '/set/cart', payload: ['book'] }))
    const out = await app.inject({ method: 'POST', url: '/logout', headers: { cookie } })
    t.same(out.json(), { credential: null })
    t.match(setCookies(out), [/^sid=; Max-Age=0/])
    const after = await app.inject({ url: '/get/cart', headers: { cookie } })
    t.same(after.json(), { value: null })
    t.match(setCookies(after), [/^sid=; Max-Age=0/], 'the stale cookie is cleared')
    const write = await app.inject({ method: 'PUT', url: '/set/cart', payload: ['pen'], headers: { cookie } })
    t.equal(setCookies(write).length, 1, 'the new session\'s cookie replaces the clearing one')
    t.not(sid(write), 'sid=')
    t.same((await app.inject({ url: '/get/cart', headers: { cookie: sid(write) } })).json(), { value: ['pen'] })
    t.same((await app.inject({ method: 'POST', url: '/logout', headers: { cookie } })).json(), { credential: null }, 'logging out an ended session is fine')
  })

  t.test('ensure(): one session per request, created once; an ended session is refused, not replaced', async (t) => {
    const service = await startService(t, h)
    const { client, calls } = counting(service.client)
    const app = await consumer(t, { client })
    const first = await app.inject({ method: 'POST', url: '/ensure', headers: { 'user-agent': 'Shopper/1.0' } })
    const { handles } = first.json<{ handles: string[] }>()
    t.equal(new Set(handles).size, 1, 'three ensure() calls, one session')
    t.same(calls, ['create'], 'created once')
    t.equal(setCookies(first).length, 1)
    const cookie = sid(first)
    calls.length = 0
    const again = await app.inject({ method: 'POST', url: '/ensure', headers: { cookie } })
    t.same(again.json(), { handles, ended: false }, 'a live session is the one returned')
    t.same(setCookies(again), [])
    t.notOk(calls.includes('create'))
    await service.admin.destroy(handles[0] ?? '')
    calls.length = 0
    const gone = await app.inject({ method: 'POST', url: '/ensure', headers: { cookie } })
    t.equal(gone.statusCode, 404)
    t.same(gone.json(), { code: 'session_not_found' })
    t.match(setCookies(gone), [/^sid=; Max-Age=0/], 'the dead cookie is cleared')
    t.notOk(calls.includes('create'), 'no new session behind the visitor\'s back')
    t.equal((await service.admin.stats()).total, 0)
    const fresh = await app.inject({ method: 'POST', url: '/ensure' })
    t.equal(fresh.statusCode, 200, 'without the cleared cookie, the next request starts a session')
    t.not(fresh.json<{ handles: string[] }>().handles[0], handles[0])
  })

  t.test('update(): concurrent read-modify-writes keep every change (If-Match, retried on 412)', async (t) => {
    const service = await startService(t, h)
    const app = await consumer(t, { baseUrl: service.url, apiKey: SERVICE_KEY })
    const first = await app.inject({ method: 'POST', url: '/append/list', payload: '0', headers: { 'content-type': 'application/json' } })
    t.match(first.json(), { value: [0], version: 2, attempts: 1 }, 'no session: ensure() creates one, then the write')
    const cookie = sid(first)
    const adds = await Promise.all(
      [1, 2, 3, 4, 5, 6].map((n) => app.inject({ method: 'POST', url: '/append/list', payload: String(n), headers: { cookie, 'content-type': 'application/json', 'x-attempts': '20' } }))
    )
    t.same(adds.map((r) => r.statusCode), [200, 200, 200, 200, 200, 200])
    const { value } = (await service.client.get<number[]>({ cookie }, 'list'))
    t.same([...(value ?? [])].sort(), [0, 1, 2, 3, 4, 5, 6], 'no add lost')
  })

  t.test('update(): a change that keeps losing fails with precondition_failed after its attempts', async (t) => {
    const service = await startService(t, h)
    // Another writer moves the version between every read and write.
    let writes = 0
    const contended: SessionClient = {
      ...service.client,
      async set(ref, key, value, options) {
        writes++
        await service.client.set(ref, 'other', writes)
        return service.client.set(ref, key, value, options)
      }
    }
    const app = Fastify()
    await app.register(sessiond, { client: contended })
    app.post('/contended', async (request) => {
      try {
        return await request.session.update<number>('n', (n) => (n ?? 0) + 1, { attempts: 3 })
      } catch (err) {
        return { code: isSessiondError(err) ? err.code : 'other' }
      }
    })
    t.teardown(() => app.close())
    const created = await service.client.create()
    const res = await app.inject({ method: 'POST', url: '/contended', headers: { 'x-session-token': created.token } })
    t.equal(writes, 3, 'three attempts')
    t.same((await service.client.get(created, 'n')).found, false, 'nothing written')
    t.same(res.json(), { code: 'precondition_failed' })
  })

  t.test('call(): any client operation on the request\'s session', async (t) => {
    const service = await startService(t, h)
    const app = await consumer(t, { baseUrl: service.url, apiKey: SERVICE_KEY })
    const laptop = sid(await app.inject({ method: 'POST', url: '/login', payload: { user: 'carol' }, headers: { 'user-agent': 'Laptop' } }))
    await app.inject({ method: 'POST', url: '/login', payload: { user: 'carol' }, headers: { 'user-agent': 'Phone' } })
    const devices = (await app.inject({ url: '/devices', headers: { cookie: laptop } })).json<{ devices: { userAgent: string; current: boolean }[] }>().devices
    t.same(devices.map((d) => [d.userAgent, d.current]).sort(), [['Laptop', true], ['Phone', false]])
    await service.admin.logoutUser('carol')
    const gone = await app.inject({ url: '/devices', headers: { cookie: laptop } })
    t.same(gone.json(), { devices: null })
    t.match(setCookies(gone), [/^sid=; Max-Age=0/])
  })

  t.test('X-Session-Token is forwarded as a token', async (t) => {
    const service = await startService(t, h)
    const app = await consumer(t, { baseUrl: service.url, apiKey: SERVICE_KEY })
    const created = await service.client.create({ data: { cart: ['mug'] } })
    const res = await app.inject({ url: '/get/cart', headers: { 'x-session-token': created.token } })
    t.same(res.json(), { value: ['mug'] })
    t.same((await app.inject({ url: '/untouched', headers: { 'x-session-token': created.token } })).json(), { credential: { token: created.token } })
  })

  t.test('signed cookies under another name, and the consumer\'s own cookies kept', async (t) => {
    const signed = await startService(t, h, { COOKIE_NAME: 'shop_sid', COOKIE_SECRET: 's'.repeat(40) })
    const app = Fastify()
    await app.register(sessiond, {
      client: createSessionClient({ baseUrl: signed.url, apiKey: SERVICE_KEY }),
      cookieName: 'shop_sid',
      sessionInfo: () => ({ userAgent: 'custom', idleTtl: 600 })
    })
    app.post('/add', async (request, reply) => {
      reply.header('set-cookie', 'theme=dark; Path=/')
      await request.session.set('n', 1)
      return { n: await request.session.get<number>('n') }
    })
    t.teardown(() => app.close())
    const first = await app.inject({ method: 'POST', url: '/add' })
    t.same(first.json(), { n: 1 })
    const cookies = setCookies(first)
    t.equal(cookies.length, 2)
    t.match(cookies[0], /^theme=dark/)
    const session = (cookies[1] ?? '').split(';')[0] ?? ''
    t.match(session, /^shop_sid=[A-Za-z0-9_-]{43}\.[^;]+$/)
    const again = await app.inject({ method: 'POST', url: '/add', headers: { cookie: `${session}; sid=other` } })
    t.same(again.json(), { n: 1 })
    t.same(setCookies(again), ['theme=dark; Path=/'], 'the same session: nothing else to relay')
    t.equal((await signed.admin.stats()).total, 1, 'the second request reused the first one\'s session')
  })

  t.test('a wrong API key: reads see no session (and log it), the first write fails loudly', async (t) => {
    const service = await startService(t, h)
    const lines: string[] = []
    const app = Fastify({ logger: { level: 'warn', stream: { write: (line: string) => { lines.push(line) } } } })
    await app.register(sessiond, { baseUrl: service.url, apiKey: 'wrong-key-0123456789' })
    app.get('/read', async (request) => ({ value: (await request.session.get('cart')) ?? null }))
    app.put('/write', async (request) => request.session.set('cart', []))
    t.teardown(() => app.close())
    const created = await service.client.create()
    const read = await app.inject({ url: '/read', headers: { cookie: `sid=${created.token}` } })
    t.same(read.json(), { value: null })
    t.match(lines.join(''), /sessiond rejected the session credential/)
    const write = await app.inject({ method: 'PUT', url: '/write', payload: {}, headers: { cookie: `sid=${created.token}` } })
    t.equal(write.statusCode, 401)
  })

  t.test('request.session before the plugin\'s hook is a clear error; app.sessiond is the client', async (t) => {
    const service = await startService(t, h)
    const app = Fastify()
    let message = ''
    app.addHook('onRequest', async (request) => {
      try {
        void request.session.credential
      } catch (err) {
        message = err instanceof Error ? err.message : String(err)
      }
    })
    await app.register(sessiond, { client: service.client })
    app.get('/', async () => ({ ok: true }))
    t.teardown(() => app.close())
    await app.inject({ url: '/' })
    t.match(message, /register sessiond before/)
    t.equal(app.sessiond, service.client)
    t.equal(app.hasRequestDecorator('session'), true)
  })
})
