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

const SESSION_TOKEN_HEADER = 'x-session-token'

/** null when the request carries no credential; throws `unauthenticated` for a malformed or forged one. */
export function readCredential(request: FastifyRequest, cookies: SessionCookies, options: { headerAllowed: boolean } = { headerAllowed: true }): Credential | null {
  const header = options.headerAllowed ? request.headers[SESSION_TOKEN_HEADER] : undefined
  if (typeof header === 'string') {
    if (!TOKEN_PATTERN.test(header)) throw new AppError('unauthenticated', 'X-Session-Token is malformed')
    return { token: header, handle: handleOf(header), source: 'header', renewCookie: false }
  }
  const raw = request.cookies[cookies.name]
  if (raw === undefined || raw === '') return null
  let token = raw
  let renewCookie = false
  if (cookies.signed) {
    const verified = request.unsignCookie(raw)
    if (!verified.valid) throw new AppError('unauthenticated', 'the session cookie signature is invalid')
    token = verified.value
    renewCookie = verified.renew
  }
  if (!TOKEN_PATTERN.test(token)) throw new AppError('unauthenticated', 'the session cookie is malformed')
  return { token, handle: handleOf(token), source: 'cookie', renewCookie }
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
