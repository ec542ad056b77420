/**
 * The cross-site request forgery guard, `app.refuseCrossSite(request)`, for
 * requests that only the session cookie authenticates: unsafe methods are
 * refused when the browser says the request is cross-site, or when its Origin
 * is neither our own nor one of ALLOWED_ORIGINS.
 */
import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { AppError } from '../../errors.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Throws `forbidden` for a cross-site request with an unsafe method. */
    readonly refuseCrossSite: (request: FastifyRequest) => void
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

export default fp(
  async (app) => {
    const allowedOrigins: ReadonlySet<string> = new Set(app.config.allowedOrigins)
    app.decorate('refuseCrossSite', (request: FastifyRequest) => {
      if (SAFE_METHODS.has(request.method)) return
      if (request.headers['sec-fetch-site'] === 'cross-site') throw new AppError('forbidden', 'cross-site requests cannot use the session cookie')
      const origin = request.headers.origin
      if (origin === undefined) return
      const own = `${request.protocol}://${request.host}`
      if (origin !== own && !allowedOrigins.has(origin)) throw new AppError('forbidden', `origin ${origin} may not use the session cookie`)
    })
  },
  { name: 'sessiond-csrf', fastify: '5.x', dependencies: ['sessiond-config'] }
)
