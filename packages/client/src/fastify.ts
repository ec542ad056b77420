/**
 * `@sessiond/client/fastify`: sessions for a consumer fastify app, kept in sessiond.
 *
 *   await app.register(sessiond, { baseUrl: 'http://sessiond:3000', apiKey })
 *   app.post('/cart', async (request) => request.session.update<string[]>('cart', (cart) => [...(cart ?? []), 'book']))
 *   app.post('/login', async (request) => request.session.rotate(userId))
 *
 * The incoming request's session cookie (or `X-Session-Token`) is forwarded to
 * sessiond; nothing is asked of sessiond until the handler uses
 * `request.session`. A request without a session reads as empty, and its first
 * write creates one (`ensure()` makes sure of one before a write, `update()`
 * is a read-modify-write that loses no concurrent change). Every `Set-Cookie` sessiond answers with (a new session,
 * a rotation, a logout, a cookie naming an ended session) is relayed to the
 * reply. This module uses only the client: none of the service's internals.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { createSessionClient, isSessiondError, SessiondError, type SessionClient, type SessionClientOptions } from './index.js'
import type { CreateSessionInput, Credential, JsonValue, Relay, Session, SessionData } from './types.js'

export type SessiondPluginOptions = (SessionClientOptions | { readonly client: SessionClient }) & {
  /** sessiond's COOKIE_NAME (default `sid`): only this cookie is forwarded. */
  readonly cookieName?: string
  /** What a session created by this app records about the browser; by default its user agent and address. */
  readonly sessionInfo?: (request: FastifyRequest) => Pick<CreateSessionInput, 'userAgent' | 'ip' | 'idleTtl' | 'absoluteTtl'>
}

/** The request's session, lazily: each method is one call to sessiond (none before the first use). */
export interface RequestSession {
  /** The credential forwarded to sessiond (after a create or rotate, the new token); null when the request has no live session known. */
  readonly credential: Credential | null
  /**
   * True once sessiond said that the session the request came with has ended (logged out
   * elsewhere, expired): its cookie is being cleared, and the app can tell the visitor.
   */
  readonly ended: boolean
  /**
   * The request's live session, for a handler about to write: a request that came without one
   * gets a new anonymous session (created at most once per request, however many calls
   * wait for it, its cookie set on the reply). A request whose session has ended fails with
   * SessiondError `session_not_found` rather than silently starting over; its next request,
   * without the cleared cookie, may create one.
   */
  readonly ensure: <D extends object = SessionData>() => Promise<Session<D>>
  /**
   * Read-modify-write of one key that loses no concurrent change: reads the session (through
   * `ensure()`), writes `change(current)` with `If-Match` on the version read, and on `412`
   * reads again and reapplies, up to `attempts` times (default 10; then the last
   * `precondition_failed` is thrown). `change` may run more than once: keep it pure.
   */
  readonly update: <T = JsonValue>(key: string, change: (current: T | undefined) => unknown, options?: { readonly attempts?: number }) => Promise<UpdateResult>
  /** The whole session, private keys included; null when there is none. */
  readonly load: <D extends object = SessionData>() => Promise<Session<D> | null>
  /** One data key; undefined when there is no session or no such key. */
  readonly get: <T = JsonValue>(key: string) => Promise<T | undefined>
  readonly has: (key: string) => Promise<boolean>
  /** Writes a key, creating the session (and its cookie) when there is none; returns the new version. */
  readonly set: (key: string, value: unknown, options?: { readonly ifMatch?: number | '*' }) => Promise<number>
  readonly del: (key: string) => Promise<void>
  /** Logs out: ends the session and clears the cookie. */
  readonly destroy: () => Promise<void>
  /** New token for the session (data kept), binding `userId` when given: call it on login. Creates a session when there is none. */
  readonly rotate: (userId?: string) => Promise<Session>
  /**
   * Any other client operation on this request's session, e.g. `(c, cred) => c.devices(cred)`.
   * Relays its Set-Cookie; null when the request has no live session.
   */
  readonly call: <R extends Relay>(operation: (client: SessionClient, credential: Credential) => Promise<R>) => Promise<R | null>
}

export interface UpdateResult {
  /** What was written. */
  readonly value: unknown
  /** The session's version after the write. */
  readonly version: number
  /** How many writes it took (1 without contention). */
  readonly attempts: number
}

export const DEFAULT_UPDATE_ATTEMPTS = 10

declare module 'fastify' {
  interface FastifyInstance {
    /** The sessiond client the plugin uses, for operations beyond the request's session. */
    sessiond: SessionClient
  }
  interface FastifyRequest {
    session: RequestSession
  }
}

const TOKEN_COOKIE = /^[A-Za-z0-9_-]{43}(\.[A-Za-z0-9_+/=%-]+)?$/

/** The value of one cookie in a Cookie header, undecoded. */
function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim()
  }
  return undefined
}

function incomingCredential(request: FastifyRequest, cookieName: string): Credential | null {
  const token = request.headers['x-session-token']
  if (typeof token === 'string' && token !== '') return { token }
  const value = cookieValue(request.headers.cookie, cookieName)
  // A value that cannot be a (signed) token names no session: sessiond would only say so.
  return value !== undefined && TOKEN_COOKIE.test(value) ? { cookie: `${cookieName}=${value}` } : null
}

const cookieNameOf = (setCookie: string): string => setCookie.slice(0, Math.max(0, setCookie.indexOf('=')))

/** Adds Set-Cookie values to the reply; a later value for the same cookie replaces an earlier one. */
function relay(reply: FastifyReply, setCookie: readonly string[]): void {
  if (setCookie.length === 0 || reply.sent) return
  const current = reply.getHeader('set-cookie')
  const existing = current === undefined ? [] : Array.isArray(current) ? current : [String(current)]
  const replaced = new Set(setCookie.map(cookieNameOf))
  reply.removeHeader('set-cookie')
  reply.header('set-cookie', [...existing.filter((c) => !replaced.has(cookieNameOf(c))), ...setCookie])
}

function requestSession(
  request: FastifyRequest,
  reply: FastifyReply,
  client: SessionClient,
  cookieName: string,
  sessionInfo: NonNullable<SessiondPluginOptions['sessionInfo']>
): RequestSession {
  let credential = incomingCredential(request, cookieName)
  let ended = false
  let creating: Promise<Session> | null = null

  /** Runs an operation on the current session; null (and the credential forgotten) when it has none. */
  async function withSession<R extends Relay>(operation: (credential: Credential) => Promise<R>): Promise<R | null> {
    if (credential === null) return null
    try {
      const result = await operation(credential)
      relay(reply, result.setCookie)
      return result
    } catch (err) {
      if (!isSessiondError(err)) throw err
      relay(reply, err.setCookie)
      if (err.code === 'session_not_found' || err.code === 'unauthenticated') {
        // Ended, unknown or forged: the request has no session. (`unauthenticated` is also
        // what a wrong API key gets; the first write's create then fails loudly.)
        if (err.code === 'unauthenticated') request.log.warn({ detail: err.detail }, 'sessiond rejected the session credential')
        else ended = true
        credential = null
        return null
      }
      throw err
    }
  }

  async function create(input: CreateSessionInput): Promise<Session> {
    const created = await client.create({ ...sessionInfo(request), ...input })
    relay(reply, created.setCookie)
    credential = { token: created.token }
    return created.session
  }

  const endedError = (): SessiondError =>
    new SessiondError({ status: 404, code: 'session_not_found', detail: 'the session this request came with has ended (logged out or expired)' })

  async function ensure<D extends object = SessionData>(): Promise<Session<D>> {
    if (credential === null) {
      if (ended) throw endedError()
      creating ??= create({})
      return (await creating) as Session<D>
    }
    const loaded = await withSession((c) => client.session<D>(c))
    if (loaded === null) throw endedError()
    return loaded.session
  }

  const session: RequestSession = {
    get credential() {
      return credential
    },
    get ended() {
      return ended
    },
    ensure,
    async update<T = JsonValue>(key: string, change: (current: T | undefined) => unknown, options: { readonly attempts?: number } = {}) {
      const attempts = options.attempts ?? DEFAULT_UPDATE_ATTEMPTS
      for (let attempt = 1; ; attempt++) {
        const current = await ensure()
        const value = change(current.data[key] as T | undefined)
        try {
          return { value, version: await session.set(key, value, { ifMatch: current.version }), attempts: attempt }
        } catch (err) {
          if (!isSessiondError(err, 'precondition_failed') || attempt >= attempts) throw err
        }
      }
    },
    async load<D extends object = SessionData>() {
      return (await withSession((c) => client.session<D>(c)))?.session ?? null
    },
    async get<T = JsonValue>(key: string) {
      return (await withSession((c) => client.get<T>(c, key)))?.value
    },
    async has(key) {
      return (await withSession((c) => client.has(c, key)))?.found ?? false
    },
    async set(key, value, options = {}) {
      const written = await withSession((c) => client.set(c, key, value, options))
      if (written !== null) return written.version
      if (options.ifMatch !== undefined) throw new SessiondError({ status: 412, code: 'precondition_failed', detail: 'If-Match was given but the request has no session' })
      return (await create({ data: { [key]: value } })).version
    },
    async del(key) {
      await withSession((c) => client.del(c, key))
    },
    async destroy() {
      await withSession((c) => client.logout(c))
      credential = null
    },
    async rotate(userId) {
      const input = userId === undefined ? {} : { userId }
      const rotated = await withSession((c) => client.rotate(c, input))
      if (rotated === null) return create(input)
      credential = { token: rotated.token }
      return rotated.session
    },
    call(operation) {
      return withSession((c) => operation(client, c))
    }
  }
  return session
}

/** Decorates the app and, per request, `request.session`. */
async function sessiond(app: FastifyInstance, options: SessiondPluginOptions): Promise<void> {
  const client = 'client' in options ? options.client : createSessionClient(options)
  const cookieName = options.cookieName ?? 'sid'
  const sessionInfo = options.sessionInfo ?? ((request: FastifyRequest) => ({ ip: request.ip, ...(request.headers['user-agent'] === undefined ? {} : { userAgent: request.headers['user-agent'] }) }))
  const sessions = new WeakMap<FastifyRequest, RequestSession>()
  app.decorate('sessiond', client)
  app.decorateRequest('session', {
    getter(this: FastifyRequest): RequestSession {
      const session = sessions.get(this)
      if (session === undefined) throw new Error('request.session is set in an onRequest hook: register sessiond before the routes and hooks that use it')
      return session
    }
  })
  app.addHook('onRequest', async (request, reply) => {
    sessions.set(request, requestSession(request, reply, client, cookieName, sessionInfo))
  })
}

/**
 * The plugin, not encapsulated (fastify-plugin), so that `request.session` and
 * `app.sessiond` reach the app that registers it. Register it once, at the root.
 */
export const sessiondPlugin = fp(sessiond, { name: '@sessiond/client', fastify: '5.x' })

export default sessiondPlugin
export type { SessionClient, SessionClientOptions } from './index.js'
