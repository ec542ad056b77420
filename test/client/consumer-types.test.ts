/**
 * A consumer's view of the types: this file is compiled by `npm run check`
 * (no `any` anywhere, every result typed from the API's JSON), and the
 * `@ts-expect-error` lines prove that misuse does not compile. At run time it
 * is a small consumer app against the real service on the memory store.
 */
import Fastify, { type FastifyRequest } from 'fastify'
import t from 'tap'
import {
  createSessionClient,
  isSessiondError,
  type Credential,
  type Device,
  type JsonValue,
  type Relay,
  type Session,
  type SessionClient,
  type SessiondErrorCode,
  type SessionSummary,
  type ValueResult
} from '../../packages/client/src/index.js'
import sessiond, { type RequestSession, type SessiondPluginOptions } from '../../packages/client/src/fastify.js'
import { ADMIN_KEY, forEachBackend, SERVICE_KEY } from '../helpers/app.js'
import { startService } from './service.js'

/** true when A and B are the same type. */
type Equal<A, B> = (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false
const proves = <T extends true>(..._proof: T extends true ? [] : [never]): void => undefined

interface ShopData {
  cart: string[]
  coupon?: string
}

// ------------------------------------------------------------ the client's types

/** Valid calls, with their result types pinned; returns a few values for the run-time checks. */
async function typedCalls(client: SessionClient, credential: Credential): Promise<Record<string, number | boolean>> {
  const created = await client.create<ShopData>({ userId: 'alice', data: { cart: [] } })
  proves<Equal<typeof created.token, string>>()
  proves<Equal<typeof created.session.data.cart, string[]>>()
  proves<Equal<typeof created.session.userId, string | null>>()
  proves<Equal<typeof created.session.authenticatedAt, string | null>>()
  proves<Equal<typeof created.setCookie, readonly string[]>>()

  const cart = await client.get<string[]>(credential, 'cart')
  proves<Equal<typeof cart, ValueResult<string[]>>>()
  if (cart.found) {
    proves<Equal<typeof cart.value, string[]>>()
    proves<Equal<typeof cart.version, number>>()
  } else {
    proves<Equal<typeof cart.value, undefined>>()
  }
  const anything = await client.get({ handle: created.session.handle }, 'anything')
  proves<Equal<typeof anything.value, JsonValue | undefined>>()

  const written = await client.set(credential, 'cart', ['book', 'pen'], { ifMatch: cart.version ?? '*' })
  proves<Equal<typeof written.version, number>>()
  const own = await client.session<Partial<ShopData>>(credential)
  proves<Equal<typeof own.session, Session<Partial<ShopData>>>>()
  const devices = await client.devices(credential)
  proves<Equal<typeof devices.sessions, readonly Device[]>>()
  proves<Equal<Device['current'], boolean>>()
  const page = await client.query({ key: 'tenant', value: 'acme', limit: 10 })
  proves<Equal<typeof page.nextCursor, string | null>>()
  const queried: string[] = []
  for await (const s of client.queryAll({ key: 'tenant', value: 'acme' })) {
    proves<Equal<typeof s, SessionSummary>>()
    queried.push(s.handle)
  }
  const stats = await client.stats({ by: 'tenant' })
  proves<Equal<typeof stats.by, Readonly<Record<string, number>>>>()
  const out: Relay = await client.logout(credential)
  return {
    written: written.version,
    read: own.session.version,
    devices: devices.sessions.length,
    queried: queried.length + page.sessions.length,
    total: stats.total,
    anything: anything.found,
    clearedCookies: out.setCookie.length
  }
}

/** Misuse that must not compile (never called). */
async function misuse(client: SessionClient, credential: Credential, session: Session<ShopData>): Promise<void> {
  // @ts-expect-error a session is addressed by credential or by handle, not both
  await client.get({ cookie: 'sid=x', handle: 'h' }, 'cart')
  // @ts-expect-error a credential is a cookie header or a token
  await client.devices({ handle: 'h' })
  // @ts-expect-error ifMatch is a version number or '*'
  await client.set(credential, 'cart', [], { ifMatch: '"3"' })
  // @ts-expect-error the data type is checked
  const wrong: string = session.data.cart
  void wrong
}

function typedErrors(err: unknown): SessiondErrorCode | null {
  if (!isSessiondError(err)) return null
  proves<Equal<typeof err.status, number>>()
  proves<Equal<typeof err.detail, string>>()
  // @ts-expect-error codes are the API's, plus the client's own
  if (err.code === 'teapot') return null
  return err.code
}

// ------------------------------------------------------------ the plugin's types

function typedRoutes(request: FastifyRequest): RequestSession {
  proves<Equal<typeof request.session, RequestSession>>()
  proves<Equal<ReturnType<typeof request.session.get<string[]>>, Promise<string[] | undefined>>>()
  proves<Equal<ReturnType<typeof request.session.has>, Promise<boolean>>>()
  proves<Equal<typeof request.session.credential, Credential | null>>()
  return request.session
}

const pluginOptions: SessiondPluginOptions[] = [
  { baseUrl: 'http://127.0.0.1:3000', apiKey: SERVICE_KEY, timeoutMs: 500, cookieName: 'sid' },
  { client: createSessionClient({ baseUrl: new URL('http://127.0.0.1:3000'), apiKey: SERVICE_KEY }), sessionInfo: (request) => ({ ip: request.ip }) }
]
// @ts-expect-error either a client or its options
const missing: SessiondPluginOptions = { cookieName: 'sid' }
void missing

// ------------------------------------------------------------ and it runs

forEachBackend(t, async (t, h) => {
  if (h.backend === 'redis') {
    t.pass('the types are store-independent: memory is enough')
    return
  }
  const service = await startService(t, h)
  t.equal(pluginOptions.length, 2)

  const app = Fastify()
  await app.register(sessiond, { baseUrl: service.url, apiKey: SERVICE_KEY })
  app.post<{ Body: { item: string } }>('/cart', async (request) => {
    const cart = (await request.session.get<string[]>('cart')) ?? []
    await request.session.set('cart', [...cart, request.body.item])
    return { cart: [...cart, request.body.item] }
  })
  app.post<{ Body: { name: string } }>('/login', async (request) => {
    const session = await request.session.rotate(request.body.name)
    return { user: session.userId, devices: (await typedRoutes(request).call((client, credential) => client.devices(credential)))?.sessions.length ?? 0 }
  })
  t.teardown(() => app.close())

  const added = await app.inject({ method: 'POST', url: '/cart', payload: { item: 'book' } })
  t.same(added.json(), { cart: ['book'] })
  const cookie = String(added.headers['set-cookie']).split(';')[0] ?? ''
  const login = await app.inject({ method: 'POST', url: '/login', payload: { name: 'alice' }, headers: { cookie } })
  t.same(login.json(), { user: 'alice', devices: 1 })

  const admin = createSessionClient({ baseUrl: service.url, apiKey: ADMIN_KEY })
  const rotatedCookie = String(login.headers['set-cookie']).split(';')[0] ?? ''
  t.same(await typedCalls(admin, { cookie: rotatedCookie }), { written: 2, read: 2, devices: 2, queried: 0, total: 2, anything: false, clearedCookies: 1 })
  t.equal(typeof misuse, 'function')
  const ended = await admin.session({ cookie: rotatedCookie }).catch((err: unknown) => err)
  t.equal(typedErrors(ended), 'session_not_found')
  t.equal(typedErrors(new Error('not ours')), null)
})
