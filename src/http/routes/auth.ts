/**
 * `/v1/auth`: gateway forward-auth (nginx auth_request, Traefik ForwardAuth,
 * Envoy ext_authz). Any method, since gateways forward the original one; the
 * body is never read. Counts as a use. No Origin check: the gateway's
 * subrequest does not carry the browser's view of the host, and the
 * SameSite cookie already keeps cross-site writes from carrying it.
 */
import type { FastifyInstance } from 'fastify'
import type { HttpContext } from '../context.js'
import { credentialOf, useCredentialScope } from '../credential-scope.js'

export function authRoutes(ctx: HttpContext) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    useCredentialScope(app, ctx, { guardCrossSite: false })
    app.removeAllContentTypeParsers()
    app.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined))

    app.all('/v1/auth', async (request, reply) => {
      const session = await ctx.store.get(credentialOf(request).handle, { touch: true })
      reply.header('x-session-handle', session.handle)
      if (session.userId !== null) reply.header('x-user-id', session.userId)
      return reply.code(204).send()
    })
  }
}
