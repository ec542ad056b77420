/**
 * The caller's own session credential: the `X-Session-Token` header or the
 * session cookie (verified against every COOKIE_SECRET before any store
 * access). Tokens are never taken from a query string or a body.
 *
 * `app.readCredential` reads one; the credential-addressed routes
 * (`/v1/session...`, `/v1/auth`) add `app.authenticateSession(...)`, which
 * reads it into `request.credential` before anything else, and
 * `app.renewSessionCookie`, which re-issues an old-secret cookie.
 */
import type { FastifyReply, FastifyRequest, onRequestHookHandler, onSendHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import { AppError } from '../../errors.js'
import { TOKEN_PATTERN, handleOf } from '../../tokens.js'
import { syncHook } from '../hooks.js'

export interface Credential {
  readonly token: string
  readonly handle: string
  readonly source: 'cookie' | 'header'
  /** The cookie verified only against an older secret: re-issue it signed with the first. */
  readonly renewCookie: boolean
}

export interface SessionAuthentication {
  readonly guardCrossSite: boolean
  /** Off for forward-auth, whose Authorization header is the client's own, not an API key. */
  readonly readApiKey: boolean
}

/** null when the request carries no credential; throws `unauthenticated` for a malformed or forged one. */
export type CredentialReader = (request: FastifyRequest, options?: { headerAllowed: boolean }) => Credential | null

declare module 'fastify' {
  interface FastifyInstance {
    readonly readCredential: CredentialReader
    /**
     * The onRequest hook of credential-addressed routes: with `readApiKey`,
     * names the API key that came along (`request.caller`); reads
     * `request.credential` (401 without one) and, with `guardCrossSite`,
     * refuses a cross-site write that only the cookie authenticates.
     */
    readonly authenticateSession: (options: SessionAuthentication) => onRequestHookHandler
    /**
     * The onSend hook of credential-addressed routes: a cookie that verified
     * only against an older COOKIE_SECRET is re-issued, signed with the first,
     * on any successful response that set no cookie itself.
     */
    readonly renewSessionCookie: onSendHookHandler
  }
  interface FastifyRequest {
    /** The session credential of a credential-addressed request. */
    credential: Credential | null
  }
}

const SESSION_TOKEN_HEADER = 'x-session-token'

/** The credential of a request that passed `authenticateSession`. */
export function credentialOf(request: FastifyRequest): Credential {
  if (request.credential === null) throw new AppError('unauthenticated', 'no session credential')
  return request.credential
}

export default fp(
  async (app) => {
    const { sessionCookies: cookies, store, clock, verifyApiKey, refuseCrossSite } = app

    const fromHeader = (header: string): Credential => {
      if (!TOKEN_PATTERN.test(header)) throw new AppError('unauthenticated', 'X-Session-Token is malformed')
      return { token: header, handle: handleOf(header), source: 'header', renewCookie: false }
    }

    const fromCookie = (request: FastifyRequest, raw: string): Credential => {
      let token = raw
      let renewCookie = false
      if (cookies.signed) {
        const unsigned = request.unsignCookie(raw)
        if (!unsigned.valid) throw new AppError('unauthenticated', 'the session cookie signature is invalid')
        token = unsigned.value
        renewCookie = unsigned.renew
      }
      if (!TOKEN_PATTERN.test(token)) throw new AppError('unauthenticated', 'the session cookie is malformed')
      return { token, handle: handleOf(token), source: 'cookie', renewCookie }
    }

    const readCredential: CredentialReader = (request, options = { headerAllowed: true }) => {
      const header = options.headerAllowed ? request.headers[SESSION_TOKEN_HEADER] : undefined
      if (typeof header === 'string') return fromHeader(header)
      const raw = request.cookies[cookies.name]
      return raw === undefined || raw === '' ? null : fromCookie(request, raw)
    }

    const renew = async (request: FastifyRequest, reply: FastifyReply, credential: Credential): Promise<void> => {
      try {
        const session = await store.get(credential.handle, { touch: false })
        cookies.issue(reply, credential.token, session.absoluteExpiresAt, clock())
      } catch (err) {
        // The response stands; the old-secret cookie is re-issued on a later request.
        request.log.warn({ err }, 'could not renew the session cookie')
      }
    }

    app.decorateRequest('credential', null)
    app.decorate('readCredential', readCredential)
    app.decorate('authenticateSession', (options: SessionAuthentication) =>
      syncHook((request) => {
        if (options.readApiKey) request.caller = verifyApiKey(request)
        const credential = readCredential(request)
        if (credential === null) throw new AppError('unauthenticated', 'no session credential: send the session cookie or X-Session-Token')
        request.credential = credential
        if (options.guardCrossSite && credential.source === 'cookie' && request.caller === null) refuseCrossSite(request)
      })
    )
    // Callback style: nearly every response has nothing to renew, and passes through without a promise.
    app.decorate('renewSessionCookie', ((request, reply, payload, done) => {
      const credential = request.credential
      if (credential === null || !credential.renewCookie || reply.statusCode >= 400 || reply.hasHeader('set-cookie')) {
        done(null, payload)
        return
      }
      void renew(request, reply, credential).then(() => {
        done(null, payload)
      })
    }) satisfies onSendHookHandler)
  },
  { name: 'sessiond-credentials', fastify: '5.x', dependencies: ['sessiond-cookies', 'sessiond-store', 'sessiond-api-keys', 'sessiond-csrf'] }
)
