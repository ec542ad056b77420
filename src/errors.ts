/** The stable error codes of the API (spec §5) and the HTTP status each maps to. */
export const ERROR_STATUS = {
  validation_failed: 400,
  unauthenticated: 401,
  session_rotated: 401,
  forbidden: 403,
  session_not_found: 404,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  events_expired: 410,
  precondition_failed: 412,
  payload_too_large: 413,
  unsupported_media_type: 415,
  too_many_requests: 429,
  internal: 500,
  store_unavailable: 503
} as const

export type ErrorCode = keyof typeof ERROR_STATUS

const TITLES: Record<ErrorCode, string> = {
  validation_failed: 'Validation failed',
  unauthenticated: 'Unauthenticated',
  session_rotated: 'Session rotated',
  forbidden: 'Forbidden',
  session_not_found: 'Session not found',
  not_found: 'Not found',
  method_not_allowed: 'Method not allowed',
  conflict: 'Conflict',
  events_expired: 'Events expired',
  precondition_failed: 'Precondition failed',
  payload_too_large: 'Payload too large',
  unsupported_media_type: 'Unsupported media type',
  too_many_requests: 'Too many requests',
  internal: 'Internal error',
  store_unavailable: 'Store unavailable'
}

/**
 * The one error type of sessiond. Everything that should reach a client as
 * problem+json is thrown as an AppError; anything else becomes `internal`.
 */
export class AppError extends Error {
  readonly code: ErrorCode
  readonly status: number
  readonly title: string
  constructor(code: ErrorCode, detail: string, options?: { cause?: unknown; status?: number }) {
    super(detail, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'AppError'
    this.code = code
    this.status = options?.status ?? ERROR_STATUS[code]
    this.title = TITLES[code]
  }
}

export const isAppError = (e: unknown): e is AppError => e instanceof AppError
