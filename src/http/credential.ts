/**
 * The caller's own session credential: the `X-Session-Token` header or the
 * session cookie (verified against every COOKIE_SECRET before any store
 * access). Tokens are never taken from a query string or a body.
 */
import type { FastifyRequest } from 'fastify'
import { AppError } from '../errors.js'
import { TOKEN_PATTERN, handleOf } from '../tokens.js'
import type { SessionCookies } from './cookies.js'

export interface Credential {
  readonly token: string
  readonly handle: string
  readonly source: 'cookie' | 'header'
  /** The cookie verified only against an older secret: re-issue it signed with the first. */
  readonly renewCookie: boolean
}

/** null when the request carries no credential; throws `unauthenticated` for a malformed or forged one. */
export type CredentialReader = (request: FastifyRequest, options?: { headerAllowed: boolean }) => Credential | null

const SESSION_TOKEN_HEADER = 'x-session-token'

/**
 * The HMAC check and the SHA-256 run on every request (~2 µs in isolation,
 * 6-8 µs of a request's CPU under load). A cache of verified credentials was
 * measured and removed: it saved that when the sessions in use fitted in it,
 * but with sessions read at random from a million it missed nearly always,
 * and its churn (entries promoted to the old generation, then dropped) cost a
 * read 6 µs more than no cache at all.
 */
export function createCredentialReader(cookies: SessionCookies): CredentialReader {
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

  return (request, options = { headerAllowed: true }) => {
    const header = options.headerAllowed ? request.headers[SESSION_TOKEN_HEADER] : undefined
    if (typeof header === 'string') return fromHeader(header)
    const raw = request.cookies[cookies.name]
    return raw === undefined || raw === '' ? null : fromCookie(request, raw)
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/**
 * Cross-site request forgery guard for requests that only the cookie
 * authenticates: unsafe methods are refused when the browser says the request
 * is cross-site, or when its Origin is neither our own nor an allowed one.
 */
export function assertNotCrossSite(request: FastifyRequest, allowedOrigins: ReadonlySet<string>): void {
  if (SAFE_METHODS.has(request.method)) return
  if (request.headers['sec-fetch-site'] === 'cross-site') throw new AppError('forbidden', 'cross-site requests cannot use the session cookie')
  const origin = request.headers.origin
  if (origin === undefined) return
  const own = `${request.protocol}://${request.host}`
  if (origin !== own && !allowedOrigins.has(origin)) throw new AppError('forbidden', `origin ${origin} may not use the session cookie`)
}
