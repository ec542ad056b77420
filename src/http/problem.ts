/**
 * The one mapping from errors to RFC 9457 problem+json. AppErrors keep their
 * code; fastify's own errors (bad JSON, body too large, wrong media type,
 * long URLs) are mapped by status so that clients only ever see our codes.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { AppError, type ErrorCode } from '../errors.js'

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

/** Turns anything thrown into an AppError; unknown errors become `internal` with no internals exposed. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error
  const status = (error as Partial<FastifyError>).statusCode
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const code = CODE_BY_STATUS[status] ?? 'validation_failed'
    return new AppError(code, (error as Error).message)
  }
  return new AppError('internal', 'an internal error occurred', { cause: error })
}

export function problemOf(error: AppError): Problem {
  return { type: `urn:sessiond:problem:${error.code}`, title: error.title, status: error.status, detail: error.message, code: error.code }
}

export function sendProblem(reply: FastifyReply, error: AppError): FastifyReply {
  if (error.code === 'store_unavailable') reply.header('retry-after', '1')
  return reply.code(error.status).type(PROBLEM_CONTENT_TYPE).send(problemOf(error))
}

export function errorHandler(this: unknown, error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const appError = toAppError(error)
  if (appError.status >= 500) request.log.error({ err: appError.code === 'internal' ? error : appError }, appError.message)
  return sendProblem(reply, appError)
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return sendProblem(reply, new AppError('not_found', `no route for ${request.method} ${request.url.split('?')[0] ?? ''}`))
}
