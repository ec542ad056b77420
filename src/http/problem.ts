/**
 * The one mapping from errors to RFC 9457 problem+json. AppErrors keep their
 * code; fastify's own errors (bad JSON, body too large, wrong media type,
 * long URLs) are mapped by status so that clients only ever see our codes.
 * The store's session errors read differently by how a route addresses the
 * session: that difference is the SESSION_PROBLEMS table below.
 */
import { maxHeaderSize } from 'node:http'
import type { FastifyError, FastifyReply } from 'fastify'
import { AppError, isAppError, type ErrorCode } from '../errors.js'

export const PROBLEM_CONTENT_TYPE = 'application/problem+json'

export interface Problem {
  type: string
  title: string
  status: number
  detail: string
  code: ErrorCode
}

const CODE_BY_STATUS: Readonly<Record<number, ErrorCode>> = {
  400: 'validation_failed',
  401: 'unauthenticated',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  412: 'precondition_failed',
  413: 'payload_too_large',
  414: 'validation_failed',
  415: 'unsupported_media_type',
  429: 'too_many_requests',
  503: 'store_unavailable'
}

/** Turns anything thrown into an AppError; unknown errors become `internal`. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error
  const status = (error as Partial<FastifyError>).statusCode
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const code = CODE_BY_STATUS[status] ?? 'validation_failed'
    return new AppError(code, (error as Error).message)
  }
  return new AppError('internal', 'an internal error occurred', { cause: error })
}

/** What Node's HTTP parser reports: llhttp's `HPE_*` code and reason, or one of Node's own codes. */
interface ParserError {
  readonly code: string
  readonly reason?: unknown
}

/** A request Node's HTTP parser refused: its headers too large (431), too slow to arrive (408), or malformed (400). */
export function parserProblem(error: ParserError): AppError {
  if (error.code === 'HPE_HEADER_OVERFLOW') return new AppError('payload_too_large', `the request line and headers exceed ${maxHeaderSize} bytes`, { status: 431 })
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') return new AppError('validation_failed', 'the request did not arrive in time', { status: 408 })
  // llhttp's reasons are fixed texts ("Invalid header token"); nothing of the request is echoed.
  const reason = error.code.startsWith('HPE_') && typeof error.reason === 'string' ? `: ${error.reason}` : ''
  return new AppError('validation_failed', `malformed HTTP request${reason}`)
}

/**
 * What a 5xx tells the caller, whatever the error says: a store's message can
 * name a host, an address or a port, and an internal one anything at all.
 * The error itself goes to the log.
 */
const SERVER_SIDE_DETAIL = 'an internal error occurred'
const STORE_UNAVAILABLE_DETAIL = 'the session store cannot be reached; retry shortly'

export function problemOf(error: AppError): Problem {
  const detail = error.status < 500 ? error.message : error.code === 'store_unavailable' ? STORE_UNAVAILABLE_DETAIL : SERVER_SIDE_DETAIL
  return { type: `urn:sessiond:problem:${error.code}`, title: error.title, status: error.status, detail, code: error.code }
}

export function sendProblem(reply: FastifyReply, error: AppError): FastifyReply {
  if (error.code === 'store_unavailable') reply.header('retry-after', '1')
  return reply.code(error.status).type(PROBLEM_CONTENT_TYPE).send(problemOf(error))
}

/**
 * How a store call addresses a session: by the caller's own credential
 * (`/v1/session...`, `/v1/auth`), by handle (`/v1/sessions/{handle}...`), or
 * as another device of the caller's user (`DELETE /v1/session/devices/{handle}`).
 */
export type Addressing = 'credential' | 'handle' | 'device'

/** What a session error becomes; `detail` replaces the store's when set. */
interface SessionProblem {
  readonly code: ErrorCode
  readonly status: number
  readonly detail?: string
  /** Tell the browser to drop the session cookie, when the credential came from it. */
  readonly clearCookie: boolean
}

type SessionErrorCode = 'session_not_found' | 'session_rotated'

const NO_SUCH_SESSION: SessionProblem = { code: 'session_not_found', status: 404, detail: 'no such session', clearCookie: false }
const NOT_ANOTHER_DEVICE: SessionProblem = { code: 'not_found', status: 404, detail: 'no other session of this user has that handle', clearCookie: false }

const SESSION_PROBLEMS: Readonly<Record<Addressing, Readonly<Record<SessionErrorCode, SessionProblem>>>> = {
  // The caller's own session is gone: 401, and its cookie is dropped. A just-rotated one is 401 with
  // the cookie left alone, so a parallel request cannot wipe the new cookie the browser just got.
  credential: {
    session_not_found: { code: 'session_not_found', status: 401, clearCookie: true },
    session_rotated: { code: 'session_rotated', status: 401, clearCookie: false }
  },
  // The administrative view: an ended, unknown or rotated-away handle is simply not there.
  handle: {
    session_not_found: { code: 'session_not_found', status: 404, clearCookie: false },
    session_rotated: NO_SUCH_SESSION
  },
  // Anything but another live session of the caller's user is not found, whatever the reason.
  device: {
    session_not_found: NOT_ANOTHER_DEVICE,
    session_rotated: NOT_ANOTHER_DEVICE
  }
}

/** An error as a route of `addressing` answers it: session errors through the table, anything else as it is. */
export function addressedError(error: unknown, addressing: Addressing | undefined): { error: unknown; clearCookie: boolean } {
  if (addressing === undefined || !isAppError(error) || (error.code !== 'session_not_found' && error.code !== 'session_rotated')) {
    return { error, clearCookie: false }
  }
  const problem = SESSION_PROBLEMS[addressing][error.code]
  return { error: new AppError(problem.code, problem.detail ?? error.message, { status: problem.status }), clearCookie: problem.clearCookie }
}

/** For a store call whose addressing differs from its route's: rethrows its error as `addressing` reads it. */
export function rethrowAs(addressing: Addressing): (error: unknown) => never {
  return (error) => {
    throw addressedError(error, addressing).error
  }
}
