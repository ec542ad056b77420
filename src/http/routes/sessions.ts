/**
 * Handle-addressed sessions (`/v1/sessions/{handle}...`): the backend's
 * administrative view. Needs a service key; never slides expiry.
 */
import type { FastifyInstance } from 'fastify'
import { AppError, isAppError } from '../../errors.js'
import type { SessionData } from '../../store/types.js'
import { handleOf, newToken } from '../../tokens.js'
import { requireScope } from '../api-keys.js'
import type { HttpContext } from '../context.js'
import { syncHook } from '../hooks.js'
import { errorHandler } from '../problem.js'
import { createSessionBody, handleParams, parse } from '../schemas.js'
import { issuedSessionSchema, sessionJson, sessionSchema, setEtag } from '../session-json.js'
import { registerDataRoutes } from './data.js'

const ADMIN_VIEW = { touch: false } as const

export function sessionRoutes(ctx: HttpContext) {
  const { store, config, cookies } = ctx
  const createBody = createSessionBody(config.session.idleTtlSec, config.session.absoluteTtlSec)

  return async function plugin(app: FastifyInstance): Promise<void> {
    app.addHook('onRequest', syncHook((request) => {
      requireScope(ctx.apiKeys(request), 'service')
    }))
    // A rotated-away handle is simply gone in the administrative view.
    app.setErrorHandler((error, request, reply) =>
      errorHandler(isAppError(error) && error.code === 'session_rotated' ? new AppError('session_not_found', 'no such session') : error, request, reply)
    )

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
      })
      cookies.issue(reply, token, session.absoluteExpiresAt, ctx.clock())
      return setEtag(reply, session.version).code(201).send({ token, session: sessionJson(session) })
    })

    app.get('/v1/sessions/:handle', { schema: { response: { 200: sessionSchema } } }, async (request, reply) => {
      const { handle } = parse(handleParams, request.params, 'path')
      const session = await store.get(handle, ADMIN_VIEW)
      return setEtag(reply, session.version).send(sessionJson(session))
    })

    app.delete('/v1/sessions/:handle', async (request, reply) => {
      const { handle } = parse(handleParams, request.params, 'path')
      if (!(await store.destroy(handle))) throw new AppError('session_not_found', 'no such session')
      return reply.code(204).send()
    })

    registerDataRoutes(app, ctx, {
      prefix: '/v1/sessions/:handle',
      resolve: (request) => ({ handle: parse(handleParams, { handle: (request.params as { handle?: unknown }).handle }, 'path').handle, access: ADMIN_VIEW }),
      authorizeKeys: () => undefined,
      visibleData: (_request, session) => session.data
    })
  }
}
