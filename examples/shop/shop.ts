/**
 * The shop's backend: a tiny fastify app that keeps its visitors' carts and
 * logins in sessiond through `@sessiond/client/fastify`, exactly as a real app
 * would (a real app imports from '@sessiond/client/fastify'; this one lives in
 * the same repository, so it imports the package's source). The browser only ever talks to the
 * shop: it never sees sessiond, its API key, or a token, only the HttpOnly
 * cookie the shop relays.
 *
 *   GET    /                     the page (index.html)
 *   GET    /api/state            who is signed in, and this device's cart
 *   POST   /api/cart             add a product; the first add starts an anonymous session
 *   DELETE /api/cart             empty the cart
 *   POST   /api/login            sign in with any name: rotates the session and binds the user
 *   GET    /api/devices          the user's sessions, named "Chrome on macOS", the current one marked
 *   DELETE /api/devices/:handle  log out one other device
 *   POST   /api/logout-others    log out every other device of this user
 *   POST   /api/logout           log out
 *
 * Carts are per device: each session has its own, and login keeps this
 * device's cart (the rotation keeps the data). A request whose session was
 * ended elsewhere gets 401 `session_ended` (and its cookie cleared) instead of
 * quietly becoming a new anonymous visitor, so the page can say so.
 */
import { readFileSync } from 'node:fs'
import Bowser from 'bowser'
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify'
import sessiond from '../../packages/client/src/fastify.js'
import { isSessiondError } from '../../packages/client/src/index.js'

export interface Product {
  readonly id: string
  readonly name: string
  readonly price: number
}

export const PRODUCTS: readonly Product[] = [
  { id: 'tea', name: 'Green tea', price: 4 },
  { id: 'mug', name: 'Enamel mug', price: 12 },
  { id: 'socks', name: 'Wool socks', price: 9 }
]

export interface ShopOptions {
  /** Where sessiond listens. */
  readonly sessiondUrl: string
  /** A service API key of that sessiond. */
  readonly apiKey: string
  readonly logLevel?: string
}

export interface ShopState {
  readonly user: string | null
  readonly cart: readonly Product[]
  readonly total: number
  /** The session's handle and version (null and 0 without one): the page renders only the newest state of a session. */
  readonly handle: string | null
  readonly version: number
  /** The request came with a session that has ended (logged out elsewhere, expired). */
  readonly ended: boolean
}

/** "Chrome on macOS", from bowser (a maintained user-agent parser). */
export function deviceName(userAgent: string | null): string {
  if (userAgent === null || userAgent.trim() === '') return 'Unknown device'
  const { browser, os } = Bowser.parse(userAgent)
  const name = browser.name === undefined || browser.name === '' ? 'Unknown browser' : browser.name
  return os.name === undefined || os.name === '' ? name : `${name} on ${os.name}`
}

const PAGE = readFileSync(new URL('./index.html', import.meta.url), 'utf8')
const NAME = /^[A-Za-z0-9._-]{1,32}$/
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

class BadRequest extends Error {}
/** The request's session was ended elsewhere: answered 401 `session_ended`. */
class SessionEnded extends Error {}

const ENDED_MESSAGE = 'your session has ended: you were logged out (from another device, or it expired)'

function bodyField(request: FastifyRequest, field: string): string {
  const body: unknown = request.body
  const value = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[field] : undefined
  if (typeof value !== 'string') throw new BadRequest(`"${field}" is required`)
  return value
}

async function stateOf(request: FastifyRequest): Promise<ShopState> {
  const session = await request.session.load<{ cart?: string[] }>()
  const cart = (session?.data.cart ?? []).flatMap((id) => PRODUCTS.filter((p) => p.id === id))
  return {
    user: session?.userId ?? null,
    cart,
    total: cart.reduce((sum, p) => sum + p.price, 0),
    handle: session?.handle ?? null,
    version: session?.version ?? 0,
    ended: request.session.ended
  }
}

/** After a read, del or call(), which answer "no session" for an ended one: say that it ended. */
function refuseEnded(request: FastifyRequest): void {
  if (request.session.ended) throw new SessionEnded(ENDED_MESSAGE)
}

export async function buildShop(options: ShopOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: { level: options.logLevel ?? 'info' } })
  // JSON bodies only: a cross-site form cannot send one without a CORS preflight.
  app.removeContentTypeParser('text/plain')
  await app.register(sessiond, { baseUrl: options.sessiondUrl, apiKey: options.apiKey })

  // The shop calls sessiond with its API key, so sessiond's own cross-site guard
  // does not apply: the shop refuses cross-site writes itself (besides SameSite=Lax).
  app.addHook('onRequest', async (request, reply) => {
    const site = request.headers['sec-fetch-site']
    if (!SAFE_METHODS.has(request.method) && site !== undefined && site !== 'same-origin' && site !== 'none') {
      return reply.code(403).send({ error: 'cross-site request refused' })
    }
    return undefined
  })

  app.setErrorHandler((err, request, reply) => {
    if (err instanceof BadRequest) return reply.code(400).send({ error: err.message })
    // ensure() and update() refuse a session that has ended rather than start a new one unasked.
    if (err instanceof SessionEnded || isSessiondError(err, 'session_not_found')) return reply.code(401).send({ error: ENDED_MESSAGE, code: 'session_ended' })
    if (isSessiondError(err, 'validation_failed')) return reply.code(400).send({ error: err.detail })
    if (isSessiondError(err, 'not_found')) return reply.code(404).send({ error: 'that device is not signed in any more' })
    if (isSessiondError(err, 'precondition_failed')) return reply.code(409).send({ error: 'the cart changed too often at once: try again' })
    if (isSessiondError(err, 'session_rotated')) return reply.code(409).send({ error: 'your session was just renewed in another tab: reload the page' })
    if (isSessiondError(err)) {
      request.log.error({ code: err.code, status: err.status }, 'sessiond call failed')
      return reply.code(502).send({ error: `the session service answered ${err.code}` })
    }
    const status = typeof (err as { statusCode?: unknown }).statusCode === 'number' ? (err as { statusCode: number }).statusCode : 500
    if (status >= 500) request.log.error({ err }, 'request failed')
    return reply.code(status).send({ error: status >= 500 ? 'internal error' : (err as Error).message })
  })

  app.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(PAGE))

  app.get('/api/state', async (request) => ({ ...(await stateOf(request)), products: PRODUCTS }))

  app.post('/api/cart', async (request) => {
    const id = bodyField(request, 'productId')
    if (!PRODUCTS.some((p) => p.id === id)) throw new BadRequest(`no product "${id}"`)
    // Read-modify-write with If-Match, retried on 412: parallel adds all land.
    // update() goes through ensure(): a visitor's first add creates the session.
    await request.session.update<string[]>('cart', (cart) => [...(cart ?? []), id])
    return stateOf(request)
  })

  app.delete('/api/cart', async (request) => {
    await request.session.del('cart')
    refuseEnded(request)
    return stateOf(request)
  })

  app.post('/api/login', async (request) => {
    const name = bodyField(request, 'name').trim()
    if (!NAME.test(name)) throw new BadRequest('a name is 1 to 32 letters, digits, dots, dashes or underscores')
    // Against session fixation: a new token for the same session, now bound to the user. This device's cart stays.
    await request.session.rotate(name)
    return stateOf(request)
  })

  app.get('/api/devices', async (request) => {
    const devices = await request.session.call((client, credential) => client.devices(credential))
    refuseEnded(request)
    const signedIn = devices?.sessions.some((d) => d.current && d.userId !== null) === true
    return {
      devices: signedIn
        ? (devices?.sessions ?? []).map((d) => ({ handle: d.handle, name: deviceName(d.userAgent), authenticatedAt: d.authenticatedAt, lastSeenAt: d.lastSeenAt, current: d.current }))
        : []
    }
  })

  app.delete('/api/devices/:handle', async (request, reply) => {
    const { handle } = request.params as { handle: string }
    const done = await request.session.call((client, credential) => client.logoutDevice(credential, handle))
    refuseEnded(request)
    if (done === null) throw new BadRequest('log in first')
    return reply.code(204).send()
  })

  app.post('/api/logout-others', async (request) => {
    const result = await request.session.call((client, credential) => client.logoutOtherDevices(credential))
    refuseEnded(request)
    return { revoked: result?.revoked ?? 0 }
  })

  app.post('/api/logout', async (request) => {
    await request.session.destroy()
    return stateOf(request)
  })

  return app
}
