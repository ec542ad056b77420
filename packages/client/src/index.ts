/**
 * `@sessiond/client`: a typed client for backends, over Node's global fetch
 * and nothing else.
 *
 *   const sessions = createSessionClient({ baseUrl: 'http://sessiond:3000', apiKey })
 *   const { value: cart } = await sessions.get<string[]>({ cookie: request.headers.cookie }, 'cart')
 *   reply.header('set-cookie', (await sessions.rotate({ cookie }, { userId })).setCookie)
 *
 * Every result carries `setCookie` (relay it to the browser); every failure is
 * a SessiondError with the API's `status`, `code` and `detail`.
 */
import { isSessiondError, SessiondError } from './errors.js'
import { bodyOf, createTransport, DEFAULT_TIMEOUT_MS, enc, isDotSegment, versionOf, type Call, type Reply, type SessionClientOptions } from './transport.js'
import type {
  AuthResult,
  BatchOps,
  CallOptions,
  CreatedResult,
  CreateSessionInput,
  Credential,
  Device,
  DevicesResult,
  EventPageResult,
  EventsQuery,
  HasResult,
  IndexPageQuery,
  IndexQuery,
  JsonValue,
  Relay,
  RevokedResult,
  Session,
  SessionData,
  SessionListResult,
  SessionPageResult,
  SessionRef,
  SessionResult,
  SessionSummary,
  StatsResult,
  ValueResult,
  WriteOptions,
  WriteResult
} from './types.js'

export * from './errors.js'
export type * from './types.js'
export { DEFAULT_TIMEOUT_MS, type SessionClientOptions } from './transport.js'

export interface SessionClient {
  /** Creates a session (login: pass userId). Relay `setCookie`; `token` is for non-browser clients. */
  readonly create: <D extends object = SessionData>(input?: CreateSessionInput, options?: CallOptions) => Promise<CreatedResult<D>>
  /** New token for the caller's session, the old one ends at once; `userId` binds a user (login of an anonymous session). */
  readonly rotate: <D extends object = SessionData>(credential: Credential, input?: { readonly userId?: string }, options?: CallOptions) => Promise<CreatedResult<D>>
  /** The whole session, all data included (the API key sees private keys). */
  readonly session: <D extends object = SessionData>(ref: SessionRef, options?: CallOptions) => Promise<SessionResult<D>>
  /** One data key; `found: false` when the session has no such key. */
  readonly get: <T = JsonValue>(ref: SessionRef, key: string, options?: CallOptions) => Promise<ValueResult<T>>
  /** Whether the session has the key (by handle, an ended session also answers false). */
  readonly has: (ref: SessionRef, key: string, options?: CallOptions) => Promise<HasResult>
  readonly set: (ref: SessionRef, key: string, value: unknown, options?: WriteOptions) => Promise<WriteResult>
  /** Deletes a key (idempotent; the version only grows when it existed). */
  readonly del: (ref: SessionRef, key: string, options?: WriteOptions) => Promise<WriteResult>
  /** An atomic batch of set / del / incr. */
  readonly patch: <D extends object = SessionData>(ref: SessionRef, ops: BatchOps, options?: WriteOptions) => Promise<SessionResult<D>>
  /** Ends a session by handle (administrative). */
  readonly destroy: (handle: string, options?: CallOptions) => Promise<Relay>
  /** Logs the caller out: ends the session and clears the cookie (relay `setCookie`). */
  readonly logout: (credential: Credential, options?: CallOptions) => Promise<Relay>
  /** The forward-auth check: who the credential belongs to. Counts as a use. */
  readonly auth: (credential: Credential, options?: CallOptions) => Promise<AuthResult>
  /** The caller's user's sessions, `current: true` on the caller's own. */
  readonly devices: (credential: Credential, options?: CallOptions) => Promise<DevicesResult>
  /** Ends every other session of the caller's user (`all: true` includes this one and clears the cookie). */
  readonly logoutOtherDevices: (credential: Credential, input?: { readonly all?: boolean }, options?: CallOptions) => Promise<RevokedResult>
  /** Ends one other session of the caller's user. */
  readonly logoutDevice: (credential: Credential, handle: string, options?: CallOptions) => Promise<Relay>
  /** Admin: a user's live sessions. */
  readonly userSessions: (userId: string, options?: CallOptions) => Promise<SessionListResult>
  /** Admin: log a user out everywhere, optionally keeping one session. */
  readonly logoutUser: (userId: string, input?: { readonly except?: string }, options?: CallOptions) => Promise<RevokedResult>
  /** Admin: one page of sessions whose indexed key equals a value. */
  readonly query: (query: IndexPageQuery, options?: CallOptions) => Promise<SessionPageResult>
  /** Admin: every session whose indexed key equals a value, page after page. */
  readonly queryAll: (query: IndexQuery & { readonly pageSize?: number }, options?: CallOptions) => AsyncGenerator<SessionSummary, void, undefined>
  /** Admin: end every session whose indexed key equals a value (a tenant's sessions). */
  readonly revokeByIndex: (query: IndexQuery, options?: CallOptions) => Promise<RevokedResult>
  /** Admin: live sessions in total and per value of an indexed key. */
  readonly stats: (input?: { readonly by?: string }, options?: CallOptions) => Promise<StatsResult>
  /** Admin (EVENTS=true): one page of lifecycle events after a cursor; `wait` long-polls (the call's time limit grows by it). */
  readonly eventPage: (query?: EventsQuery, options?: CallOptions) => Promise<EventPageResult>
  /**
   * Admin (EVENTS=true): every page of events after `after` (default `now`),
   * long-polling (`wait` default 30 s), for as long as the loop runs. Each
   * page comes with the cursor after it: store it once the page is handled
   * to resume there.
   */
  readonly events: (query?: EventsQuery, options?: CallOptions) => AsyncGenerator<EventPageResult, never, undefined>
}

export function createSessionClient(options: SessionClientOptions): SessionClient {
  const send = createTransport(options)
  const defaultTimeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS

  const sessionPath = (ref: SessionRef): string => (ref.handle !== undefined ? `/v1/sessions/${enc(ref.handle)}` : '/v1/session')
  const credentialOf = (ref: SessionRef): Credential | undefined => (ref.handle !== undefined ? undefined : ref)
  const userPath = (userId: string): string => {
    if (isDotSegment(userId)) throw new SessiondError({ status: 0, code: 'validation_failed', detail: `the userId "${userId}" cannot be addressed in a URL path` })
    return `/v1/users/${enc(userId)}/sessions`
  }

  const sessionResult = <D extends object>(reply: Reply): SessionResult<D> => ({ session: bodyOf<Session<D>>(reply), version: versionOf(reply.headers), setCookie: reply.setCookie })
  const createdResult = <D extends object>(reply: Reply): CreatedResult<D> => {
    const body = bodyOf<{ token: string; session: Session<D> }>(reply)
    return { token: body.token, session: body.session, version: versionOf(reply.headers), setCookie: reply.setCookie }
  }
  const relay = (reply: Reply): Relay => ({ setCookie: reply.setCookie })
  const revokedResult = (reply: Reply, revoked: number): RevokedResult => ({ revoked, setCookie: reply.setCookie })

  const client: SessionClient = {
    async create<D extends object = SessionData>(input: CreateSessionInput = {}, options?: CallOptions) {
      return createdResult<D>(await send({ method: 'POST', path: '/v1/sessions', body: input, options }))
    },

    async rotate<D extends object = SessionData>(credential: Credential, input: { readonly userId?: string } = {}, options?: CallOptions) {
      return createdResult<D>(await send({ method: 'POST', path: '/v1/session/rotate', body: input, credential, options }))
    },

    async session<D extends object = SessionData>(ref: SessionRef, options?: CallOptions) {
      return sessionResult<D>(await send({ method: 'GET', path: sessionPath(ref), credential: credentialOf(ref), options }))
    },

    async get<T = JsonValue>(ref: SessionRef, key: string, options?: CallOptions): Promise<ValueResult<T>> {
      if (isDotSegment(key)) {
        const { session, version, setCookie } = await client.session(ref, options)
        return Object.hasOwn(session.data, key) ? { found: true, value: session.data[key] as T, version, setCookie } : { found: false, value: undefined, version: undefined, setCookie }
      }
      try {
        const reply = await send({ method: 'GET', path: `${sessionPath(ref)}/data/${enc(key)}`, credential: credentialOf(ref), options })
        return { found: true, value: bodyOf<{ value: T }>(reply).value, version: versionOf(reply.headers), setCookie: reply.setCookie }
      } catch (err) {
        if (isSessiondError(err, 'not_found')) return { found: false, value: undefined, version: undefined, setCookie: err.setCookie }
        throw err
      }
    },

    async has(ref, key, options) {
      if (isDotSegment(key)) {
        const result = await client.get(ref, key, options)
        return { found: result.found, version: result.version, setCookie: result.setCookie }
      }
      const call: Call = { method: 'HEAD', path: `${sessionPath(ref)}/data/${enc(key)}`, credential: credentialOf(ref), options, passStatus: [404] }
      let reply: Reply
      try {
        reply = await send(call)
      } catch (err) {
        // A HEAD error has no body: ask again with GET to learn its code.
        if (!isSessiondError(err) || err.status === 0) throw err
        const result = await client.get(ref, key, options)
        return { found: result.found, version: result.version, setCookie: result.setCookie }
      }
      return reply.status === 404 ? { found: false, version: undefined, setCookie: reply.setCookie } : { found: true, version: versionOf(reply.headers), setCookie: reply.setCookie }
    },

    async set(ref, key, value, options) {
      if (isDotSegment(key)) {
        const { version, setCookie } = await client.patch(ref, { set: { [key]: value } }, options)
        return { version, setCookie }
      }
      const reply = await send({ method: 'PUT', path: `${sessionPath(ref)}/data/${enc(key)}`, body: { value }, credential: credentialOf(ref), ifMatch: options?.ifMatch, options })
      return { version: versionOf(reply.headers), setCookie: reply.setCookie }
    },

    async del(ref, key, options) {
      if (isDotSegment(key)) {
        const { version, setCookie } = await client.patch(ref, { del: [key] }, options)
        return { version, setCookie }
      }
      const reply = await send({ method: 'DELETE', path: `${sessionPath(ref)}/data/${enc(key)}`, credential: credentialOf(ref), ifMatch: options?.ifMatch, options })
      return { version: versionOf(reply.headers), setCookie: reply.setCookie }
    },

    async patch<D extends object = SessionData>(ref: SessionRef, ops: BatchOps, options?: WriteOptions) {
      return sessionResult<D>(await send({ method: 'PATCH', path: `${sessionPath(ref)}/data`, body: ops, credential: credentialOf(ref), ifMatch: options?.ifMatch, options }))
    },

    async destroy(handle, options) {
      return relay(await send({ method: 'DELETE', path: `/v1/sessions/${enc(handle)}`, options }))
    },

    async logout(credential, options) {
      return relay(await send({ method: 'DELETE', path: '/v1/session', credential, options }))
    },

    async auth(credential, options) {
      const reply = await send({ method: 'GET', path: '/v1/auth', credential, options })
      return { handle: reply.headers.get('x-session-handle') ?? '', userId: reply.headers.get('x-user-id'), setCookie: reply.setCookie }
    },

    async devices(credential, options) {
      const reply = await send({ method: 'GET', path: '/v1/session/devices', credential, options })
      return { sessions: bodyOf<{ sessions: Device[] }>(reply).sessions, setCookie: reply.setCookie }
    },

    async logoutOtherDevices(credential, input = {}, options) {
      const reply = await send({ method: 'DELETE', path: '/v1/session/devices', query: { all: input.all === true ? true : undefined }, credential, options })
      return revokedResult(reply, bodyOf<{ revoked: number }>(reply).revoked)
    },

    async logoutDevice(credential, handle, options) {
      return relay(await send({ method: 'DELETE', path: `/v1/session/devices/${enc(handle)}`, credential, options }))
    },

    async userSessions(userId, options) {
      const reply = await send({ method: 'GET', path: userPath(userId), options })
      return { sessions: bodyOf<{ sessions: SessionSummary[] }>(reply).sessions, setCookie: reply.setCookie }
    },

    async logoutUser(userId, input = {}, options) {
      const reply = await send({ method: 'DELETE', path: userPath(userId), query: { except: input.except }, options })
      return revokedResult(reply, bodyOf<{ revoked: number }>(reply).revoked)
    },

    async query(query, options) {
      const reply = await send({ method: 'GET', path: '/v1/sessions', query: { key: query.key, value: query.value, limit: query.limit, cursor: query.cursor }, options })
      const page = bodyOf<{ sessions: SessionSummary[]; nextCursor: string | null }>(reply)
      return { sessions: page.sessions, nextCursor: page.nextCursor, setCookie: reply.setCookie }
    },

    async *queryAll(query, options) {
      let cursor: string | null = null
      do {
        const page: SessionPageResult = await client.query({ key: query.key, value: query.value, cursor, ...(query.pageSize === undefined ? {} : { limit: query.pageSize }) }, options)
        yield* page.sessions
        cursor = page.nextCursor
      } while (cursor !== null)
    },

    async revokeByIndex(query, options) {
      const reply = await send({ method: 'DELETE', path: '/v1/sessions', query: { key: query.key, value: query.value }, options })
      return revokedResult(reply, bodyOf<{ revoked: number }>(reply).revoked)
    },

    async stats(input = {}, options) {
      const reply = await send({ method: 'GET', path: '/v1/stats/sessions', query: { by: input.by }, options })
      const counts = bodyOf<{ total: number; by: Record<string, number>; without?: number }>(reply)
      return { total: counts.total, by: counts.by, without: counts.without, setCookie: reply.setCookie }
    },

    async eventPage(query = {}, options) {
      const timeoutMs = (options?.timeoutMs ?? defaultTimeoutMs) + (query.wait ?? 0) * 1000
      const reply = await send({ method: 'GET', path: '/v1/events', query: { after: query.after, limit: query.limit, wait: query.wait }, options: { ...options, timeoutMs } })
      const page = bodyOf<{ events: EventPageResult['events']; nextCursor: string }>(reply)
      return { events: page.events, nextCursor: page.nextCursor, setCookie: reply.setCookie }
    },

    async *events(query = {}, options) {
      let after = query.after ?? 'now'
      for (;;) {
        const page: EventPageResult = await client.eventPage({ after, wait: query.wait ?? 30, ...(query.limit === undefined ? {} : { limit: query.limit }) }, options)
        if (page.events.length > 0) yield page
        after = page.nextCursor
      }
    }
  }
  return client
}
