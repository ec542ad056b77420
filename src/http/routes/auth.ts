/**
 * `/v1/auth`: gateway forward-auth (nginx auth_request, Traefik ForwardAuth,
 * Envoy ext_authz). Any method, since gateways forward the original one; the
 * body is never read. Counts as a use. The Authorization header is never
 * read: gateways forward the client's own (an app's bearer token or Basic
 * credentials). No Origin check: the gateway's subrequest does not carry the
 * browser's view of the host, and the SameSite cookie already keeps
 * cross-site writes from carrying it.
 */
import type { FastifyInstance } from 'fastify'
import { credentialOf } from '../plugins/credentials.js'
import { addressedBy } from '../plugins/problems.js'

export default async function authRoutes(app: FastifyInstance): Promise<void> {
  const { store } = app
  app.addHook('onRoute', addressedBy('credential'))
  app.addHook('onRequest', app.authenticateSession({ guardCrossSite: false, readApiKey: false }))
  app.addHook('onSend', app.renewSessionCookie)
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined))

  app.all('/v1/auth', async (request, reply) => {
    const session = await store.get(credentialOf(request).handle, { touch: true })
    reply.header('x-session-handle', session.handle)
    if (session.userId !== null) reply.header('x-user-id', session.userId)
    return reply.code(204).send()
  })
}
