/**
 * Handle-addressed sessions (`/v1/sessions/{handle}...`), and their creation:
 * the backend's administrative view. Needs a service key; never slides
 * expiry.
 */
import type { FastifyInstance } from 'fastify'
import { AppError } from '../../errors.js'
import type { SessionData } from '../../store/types.js'
import { handleOf, newToken } from '../../tokens.js'
import { audit, changeBy } from '../audit.js'
import { addressedBy } from '../plugins/problems.js'
import { createSessionBody, handleParams, parse } from '../schemas.js'
import { issuedSessionSchema, sessionJson, sessionSchema, setEtag } from '../session-json.js'
import dataRoutes from './data.js'

const ADMIN_VIEW = { touch: false } as const

export default async function sessionsRoutes(app: FastifyInstance): Promise<void> {
  const { store, config, sessionCookies, clock } = app
  const createBody = createSessionBody(config.session.idleTtlSec, config.session.absoluteTtlSec)
  app.addHook('onRequest', app.requireApiKey('service'))
  app.addHook('onRoute', addressedBy('handle'))

  app.post('/v1/sessions', { schema: { response: { 201: issuedSessionSchema } } }, async (request, reply) => {
    const body = parse(createBody, request.body ?? {}, 'body')
    const token = newToken()
    const session = await store.create({
      handle: handleOf(token),
      userId: body.userId ?? null,
      data: body.data ?? (Object.create(null) as SessionData),
      idleTtlMs: (body.idleTtl ?? config.session.idleTtlSec) * 1000,
      absoluteTtlMs: (body.absoluteTtl ?? config.session.absoluteTtlSec) * 1000,
      userAgent: body.userAgent ?? null,
      ip: body.ip ?? null
    }, changeBy(request))
    sessionCookies.issue(reply, token, session.absoluteExpiresAt, clock())
    return setEtag(reply, session.version).code(201).send({ token, session: sessionJson(session) })
  })

  app.get('/v1/sessions/:handle', { schema: { response: { 200: sessionSchema } } }, async (request, reply) => {
    const { handle } = parse(handleParams, request.params, 'path')
    const session = await store.get(handle, ADMIN_VIEW)
    return setEtag(reply, session.version).send(sessionJson(session))
  })

  app.delete('/v1/sessions/:handle', async (request, reply) => {
    const { handle } = parse(handleParams, request.params, 'path')
    if (!(await store.destroy(handle, { ...changeBy(request), reason: 'destroyed' }))) throw new AppError('session_not_found', 'no such session')
    audit(request, 'destroy', { handle }, 1)
    return reply.code(204).send()
  })

  await app.register(dataRoutes, {
    prefix: '/v1/sessions/:handle',
    resolve: (request) => ({ handle: parse(handleParams, { handle: (request.params as { handle?: unknown }).handle }, 'path').handle, access: ADMIN_VIEW }),
    authorizeKeys: () => undefined,
    visibleData: (_request, session) => session.data
  })
}
