/**
 * Credentials never reach the logs. fastify's request and response lines
 * carry no headers at all; should any log call add a headers object, at the
 * top (`headers`) or one level down (`req.headers`, `reply.headers`, ...),
 * its secret headers are censored. It runs as pino's `formatters.log` hook,
 * which looks at each top-level value once and copies only what it censors.
 * A logged request's URL is its path alone: a query string may carry a token
 * a client put there by mistake (sessiond never reads one from it).
 */
import type { FastifyRequest } from 'fastify'

const SECRET_HEADERS = ['authorization', 'cookie', 'x-session-token', 'set-cookie'] as const
export const CENSOR = '[redacted]'

type Fields = Record<string, unknown>

const isObject = (value: unknown): value is Fields => typeof value === 'object' && value !== null

/** The headers with their secret ones censored: the same object when none is there. */
function censorHeaders(headers: Fields): Fields {
  let censored: Fields | undefined
  for (const name of SECRET_HEADERS) {
    if (headers[name] === undefined) continue
    censored ??= { ...headers }
    censored[name] = CENSOR
  }
  return censored ?? headers
}

/** A log call's fields with any secret header censored; the same object when there is nothing to censor. */
export function redactHeaders(fields: Fields): Fields {
  let out: Fields | undefined
  for (const key of Object.keys(fields)) {
    const value = fields[key]
    if (!isObject(value)) continue
    if (key === 'headers') {
      const censored = censorHeaders(value)
      if (censored !== value) (out ??= { ...fields })[key] = censored
    } else if (Object.hasOwn(value, 'headers') && isObject(value.headers)) {
      // Own properties only: a FastifyRequest's headers come from its prototype and its serializer drops them.
      const censored = censorHeaders(value.headers)
      if (censored !== value.headers) (out ??= { ...fields })[key] = { ...value, headers: censored }
    }
  }
  return out ?? fields
}

/** The URL without its query string. */
export function pathOf(url: string): string {
  const query = url.indexOf('?')
  return query === -1 ? url : url.slice(0, query)
}

/** What a log call passes as `req`: a FastifyRequest, or whatever else a caller put there. */
type LoggedRequest = Partial<Pick<FastifyRequest, 'method' | 'url' | 'headers' | 'host' | 'ip' | 'socket'>>

/** fastify's `req` serializer with the query string left out of `url`. */
export function serializeRequest(request: LoggedRequest): Fields {
  return {
    method: request.method,
    url: request.url === undefined ? undefined : pathOf(request.url),
    version: request.headers?.['accept-version'],
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort
  }
}
