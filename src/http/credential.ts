/**
 * The caller's own session credential: the `X-Session-Token` header or the
 * session cookie (verified against every COOKIE_SECRET before any store
 * access). Tokens are never taken from a query string or a body.
 */
import type { FastifyRequest } from 'fastify'
import { FifoMap } from 'toad-cache'
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
 * Credentials already verified, by the exact header or cookie text: a session
 * is used many times, and its HMAC check and SHA-256 are pure functions of
 * that text (the secrets are fixed for the life of the process), so they run
 * once per credential rather than once per request. Only valid credentials are
 * kept, first in first out, so a flood of forged ones cannot grow it.
 */
export const VERIFIED_CREDENTIALS = 20_000

export function createCredentialReader(cookies: SessionCookies): CredentialReader {
  const verified = new FifoMap<Credential>(VERIFIED_CREDENTIALS, 0)
  const remember = (text: string, credential: Credential): Credential => {
    verified.set(text, credential)
    return credential
  }

  const fromHeader = (header: string): Credential => {
    if (!TOKEN_PATTERN.test(header)) throw new AppError('unauthenticated', 'X-Session-Token is malformed')
    return remember(header, { token: header, handle: handleOf(header), source: 'header', renewCookie: false })
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
    return remember(raw, { token, handle: handleOf(token), source: 'cookie', renewCookie })
  }

  return (request, options = { headerAllowed: true }) => {
    const header = options.headerAllowed ? request.headers[SESSION_TOKEN_HEADER] : undefined
    if (typeof header === 'string') {
      const known = verified.get(header)
      return known?.source === 'header' ? known : fromHeader(header)
    }
    const raw = request.cookies[cookies.name]
    if (raw === undefined || raw === '') return null
    const known = verified.get(raw)
    return known?.source === 'cookie' ? known : fromCookie(request, raw)
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
