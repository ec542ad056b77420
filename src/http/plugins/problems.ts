/**
 * Everything that fails leaves as problem+json (src/http/problem.ts): the
 * error handler, the not-found handler and, passed to Fastify() by buildApp,
 * the router's own errors. A route plugin declares how its routes address a
 * session with `app.addHook('onRoute', addressedBy(...))`, and the error
 * handler reads the store's session errors accordingly. Register it before
 * any route: a route keeps the error handler that was set when it was added.
 */
import type { FastifyReply, FastifyRequest, FastifyServerOptions, onRouteHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import { AppError } from '../../errors.js'
import { addressedError, sendProblem, toAppError, type Addressing } from '../problem.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** How the route addresses a session; unset for routes that address none. */
    addressing?: Addressing
  }
}

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

export default fp(
  async (app) => {
    const cookies = app.sessionCookies

    app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
      const addressed = addressedError(error, request.routeOptions.config.addressing)
      if (addressed.clearCookie && request.credential?.source === 'cookie') cookies.clear(reply)
      const appError = toAppError(addressed.error)
      if (appError.status >= 500) request.log.error({ err: appError.code === 'internal' ? error : appError }, appError.message)
      return sendProblem(reply, appError)
    })

    app.setNotFoundHandler((request, reply) =>
      sendProblem(reply, new AppError('not_found', `no route for ${request.method} ${request.url.split('?')[0] ?? ''}`))
    )
  },
  { name: 'sessiond-problems', fastify: '5.x', dependencies: ['sessiond-cookies', 'sessiond-credentials'] }
)
