/** The one error type the client throws. */

/** The API's stable problem codes (spec §5). */
export const PROBLEM_CODES = [
  'validation_failed',
  'unauthenticated',
  'session_rotated',
  'forbidden',
  'session_not_found',
  'not_found',
  'method_not_allowed',
  'conflict',
  'events_expired',
  'precondition_failed',
  'payload_too_large',
  'unsupported_media_type',
  'too_many_requests',
  'internal',
  'store_unavailable'
] as const

export type ProblemCode = (typeof PROBLEM_CODES)[number]

/**
 * Failures with no problem document from sessiond (status 0 unless a response came):
 * `timeout` (timeoutMs elapsed), `aborted` (the caller's signal), `network_error`
 * (no connection), `unexpected_response` (a response that is not sessiond's JSON,
 * e.g. from a proxy in between).
 */
export type ClientErrorCode = 'timeout' | 'aborted' | 'network_error' | 'unexpected_response'

export type SessiondErrorCode = ProblemCode | ClientErrorCode

export interface SessiondErrorInit {
  readonly status: number
  readonly code: SessiondErrorCode
  readonly detail: string
  readonly title?: string
  readonly setCookie?: readonly string[]
  readonly retryAfterSec?: number
  readonly cause?: unknown
}

export class SessiondError extends Error {
  /** The HTTP status; 0 when no response arrived. */
  readonly status: number
  readonly code: SessiondErrorCode
  /** What went wrong; for validation errors, which field and why. */
  readonly detail: string
  readonly title: string
  /** Relay these too: a rejected cookie is cleared (`session_not_found`). */
  readonly setCookie: readonly string[]
  /** From `Retry-After` (503 `store_unavailable`, 429 `too_many_requests`). */
  readonly retryAfterSec: number | undefined

  constructor(init: SessiondErrorInit) {
    super(`sessiond: ${init.code} (${init.status}): ${init.detail}`, init.cause === undefined ? undefined : { cause: init.cause })
    this.name = 'SessiondError'
    this.status = init.status
    this.code = init.code
    this.detail = init.detail
    this.title = init.title ?? init.code
    this.setCookie = init.setCookie ?? []
    this.retryAfterSec = init.retryAfterSec
  }
}

export const isSessiondError = (err: unknown, code?: SessiondErrorCode): err is SessiondError =>
  err instanceof SessiondError && (code === undefined || err.code === code)

export const isProblemCode = (code: unknown): code is ProblemCode => typeof code === 'string' && (PROBLEM_CODES as readonly string[]).includes(code)
