/**
 * Everything that fails leaves as problem+json (src/http/problem.ts): the
 * error handler, the not-found handler and, passed to Fastify() by buildApp,
 * the router's own errors and the requests Node's HTTP parser cannot read.
 * A path that no route serves is 404; a path served for other methods is 405
 * with `Allow`, from the methods the routes registered for it. A route
 * plugin declares how its routes address a session with
 * `app.addHook('onRoute', addressedBy(...))`, and the error handler reads the
 * store's session errors accordingly. Register it before
 * any route: a route keeps the error handler that was set when it was added.
 *
 * Every refused credential passes through the error handler, so it is where
 * they are counted: `sessiond_credentials_refused_total` by problem code.
 */
import { STATUS_CODES, type ServerResponse } from 'node:http'
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions, onRouteHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import { Counter } from 'prom-client'
import { AppError } from '../../errors.js'
import { pathOf } from '../../log/redaction.js'
import { routeTable } from '../allowed-methods.js'
import { syncHook } from '../hooks.js'
import { PROBLEM_CONTENT_TYPE, addressedError, parserProblem, problemOf, sendProblem, toAppError, type Addressing } from '../problem.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** How the route addresses a session; unset for routes that address none. */
    addressing?: Addressing
  }
  interface FastifyInstance {
    /** Gives another instance (the metrics listener) this app's error handler, refusals counted alike, its Host check, and a not-found handler reading its own routes; call it before it registers any. */
    readonly shareErrorHandling: (other: FastifyInstance) => void
  }
}

/** The codes a refused credential (every 401 and 403) answers with; each is a series from the start. */
const REFUSAL_CODES = ['unauthenticated', 'session_not_found', 'session_rotated', 'forbidden'] as const

/** An onRoute hook that marks every route of the plugin (and its children) as addressing sessions by `addressing`. */
export function addressedBy(addressing: Addressing): onRouteHookHandler {
  return (route) => {
    route.config = { ...route.config, addressing }
  }
}

/** Router errors (a bad percent-encoding, an over-long segment) are problem+json too. */
export const frameworkErrors: NonNullable<FastifyServerOptions['frameworkErrors']> = (error, _request, reply) => {
  void sendProblem(reply, toAppError(error))
}

type ClientErrorHandler = NonNullable<FastifyServerOptions['clientErrorHandler']>

/**
 * A request the parser refused never reaches fastify, so its answer is
 * written to the socket by hand, and the connection is closed once it is out:
 * the parser cannot find where the next request would start.
 */
export function clientErrorHandler(log: FastifyBaseLogger): ClientErrorHandler {
  return (error, socket) => {
    // A reset connection has no one to answer.
    if (error.code === 'ECONNRESET' || socket.destroyed) return
    const problem = parserProblem(error)
    // The code only: the error's rawPacket holds the request's bytes, cookies included.
    log.debug({ code: error.code, status: problem.status }, 'unparsable request')
    if (!socket.writable) {
      socket.destroy()
      return
    }
    // Bytes that broke the parser after a request it accepted (data after `Connection: close`):
    // that request's answer goes out alone, then the connection closes. Node's own handler reads
    // _httpMessage to tell whether a response is in flight on the socket.
    const inFlight = (socket as { _httpMessage?: ServerResponse | null })._httpMessage
    if (inFlight !== null && inFlight !== undefined) {
      inFlight.once('finish', () => socket.destroy())
      return
    }
    const body = JSON.stringify(problemOf(problem))
    const head = [
      `HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status] ?? ''}`,
      `content-type: ${PROBLEM_CONTENT_TYPE}`,
      `content-length: ${Buffer.byteLength(body)}`,
      'connection: close'
    ]
    socket.end(`${head.join('\r\n')}\r\n\r\n${body}`, () => socket.destroy())
  }
}

export default fp(
  async (app) => {
    const cookies = app.sessionCookies
    const refused = new Counter({
      name: 'sessiond_credentials_refused_total',
      help: 'Requests refused for their credential or API key (401 and 403), by problem code.',
      labelNames: ['code'] as const,
      registers: [app.metrics]
    })
    for (const code of REFUSAL_CODES) refused.inc({ code }, 0)

    const handleError = (error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
      const addressed = addressedError(error, request.routeOptions.config.addressing)
      if (addressed.clearCookie && request.credential?.source === 'cookie') cookies.clear(reply)
      const appError = toAppError(addressed.error)
      if (appError.status === 401 || appError.status === 403) refused.inc({ code: appError.code })
      if (appError.code === 'store_unavailable') app.storeOutages.failed(appError, request.log)
      else if (appError.status >= 500) request.log.error({ err: appError.code === 'internal' ? error : appError }, appError.message)
      return sendProblem(reply, appError)
    }

    // Node's own answer to an HTTP/1.1 request without Host (RFC 9112 §3.2) is a bare 400; serverOptions turns it off for this one.
    const requireHost = syncHook((request) => {
      if (request.headers.host === undefined && request.raw.httpVersion === '1.1') throw new AppError('validation_failed', 'an HTTP/1.1 request needs a Host header')
    })

    /** A not-found handler for `instance`, answering from a table of the routes it registers from now on. */
    const notFoundHandler = (instance: FastifyInstance) => {
      const routes = routeTable()
      // Added before any route of the instance, so it sees each one, fastify's own HEAD routes included.
      instance.addHook('onRoute', (route) => {
        routes.add(route.url, [route.method].flat())
      })
      return (request: FastifyRequest, reply: FastifyReply): FastifyReply => {
        const path = pathOf(request.url)
        const allowed = routes.allowedAt(path)
        if (allowed.length === 0) return sendProblem(reply, new AppError('not_found', `no route for ${request.method} ${path}`))
        const methods = allowed.join(', ')
        return sendProblem(reply.header('allow', methods), new AppError('method_not_allowed', `${request.method} is not served at ${path}; it serves ${methods}`))
      }
    }

    app.addHook('onRequest', requireHost)
    app.setErrorHandler(handleError)
    app.setNotFoundHandler(notFoundHandler(app))
    app.decorate('shareErrorHandling', (other: FastifyInstance) => {
      other.addHook('onRequest', requireHost)
      other.setErrorHandler(handleError)
      other.setNotFoundHandler(notFoundHandler(other))
    })
  },
  { name: 'sessiond-problems', fastify: '5.x', dependencies: ['sessiond-metrics', 'sessiond-store', 'sessiond-cookies', 'sessiond-credentials'] }
)
