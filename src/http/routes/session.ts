/**
 * The caller's own session (`/v1/session...`), addressed by the session
 * credential. Every use slides the idle expiry. Without an API key only
 * PUBLIC_KEYS data is visible.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { z } from 'zod'
import { AppError, isAppError } from '../../errors.js'
import type { SessionData, SessionRecord } from '../../store/types.js'
import { newTokenInShard, shardOf } from '../../tokens.js'
import { requireScope } from '../api-keys.js'
import type { HttpContext } from '../context.js'
import { credentialOf, publicData, useCredentialScope } from '../credential-scope.js'
import { handleParams, parse, userId } from '../schemas.js'
import { issuedSessionSchema, sessionJson, sessionMetaJson, sessionSchema, setEtag } from '../session-json.js'
import { registerDataRoutes } from './data.js'

const USE = { touch: true } as const
const rotateBody = z.strictObject({ userId: userId.optional() })
const devicesQuery = z.object({ all: z.stringbool().default(false) })

export function selfRoutes(ctx: HttpContext) {
  const { store, cookies } = ctx

  const visibleData = (request: FastifyRequest, session: SessionRecord): SessionData =>
    request.caller !== null ? session.data : publicData(ctx, session.data)
  const sendSession = (request: FastifyRequest, reply: FastifyReply, session: SessionRecord) =>
    setEtag(reply, session.version).send(sessionJson(session, visibleData(request, session)))

  return async function plugin(app: FastifyInstance): Promise<void> {
    useCredentialScope(app, ctx, { guardCrossSite: true })

    app.get('/v1/session', { schema: { response: { 200: sessionSchema } } }, async (request, reply) => {
      const session = await store.get(credentialOf(request).handle, USE)
      return sendSession(request, reply, session)
    })

    app.delete('/v1/session', async (request, reply) => {
      const { handle } = credentialOf(request)
      // A failed destroy tells rotated-away from unknown through the read.
      if (!(await store.destroy(handle))) await store.get(handle, { touch: false })
      cookies.clear(reply)
      return reply.code(204).send()
    })

    app.post('/v1/session/rotate', { schema: { response: { 201: issuedSessionSchema } } }, async (request, reply) => {
      requireScope(request.caller, 'service')
      const body = parse(rotateBody, request.body ?? {}, 'body')
      const { handle } = credentialOf(request)
      const next = newTokenInShard(shardOf(handle))
      const session = await store.rotate(handle, next.handle, body.userId === undefined ? {} : { userId: body.userId })
      cookies.issue(reply, next.token, session.absoluteExpiresAt, ctx.clock())
      return setEtag(reply, session.version).code(201).send({ token: next.token, session: sessionJson(session) })
    })

    app.get('/v1/session/devices', async (request) => {
      const current = await store.get(credentialOf(request).handle, USE)
      const sessions = current.userId === null ? [current] : await store.listUserSessions(current.userId)
      return { sessions: sessions.map((s) => ({ ...sessionMetaJson(s), current: s.handle === current.handle })) }
    })

    app.delete('/v1/session/devices', async (request, reply) => {
      const { all } = parse(devicesQuery, request.query, 'query')
      const current = await store.get(credentialOf(request).handle, USE)
      let revoked: number
      if (current.userId === null) revoked = all && (await store.destroy(current.handle)) ? 1 : 0
      else revoked = await store.revokeUserSessions(current.userId, all ? {} : { exceptHandle: current.handle })
      if (all) cookies.clear(reply)
      return { revoked }
    })

    app.delete('/v1/session/devices/:handle', async (request, reply) => {
      const { handle: other } = parse(handleParams, request.params, 'path')
      const current = await store.get(credentialOf(request).handle, USE)
      const notMine = new AppError('not_found', 'no other session of this user has that handle')
      if (current.userId === null || other === current.handle) throw notMine
      const target = await store.get(other, { touch: false }).catch((err: unknown) => {
        if (isAppError(err) && (err.code === 'session_not_found' || err.code === 'session_rotated')) throw notMine
        throw err
      })
      if (target.userId !== current.userId) throw notMine
      await store.destroy(other)
      return reply.code(204).send()
    })

    registerDataRoutes(app, ctx, {
      prefix: '/v1/session',
      resolve: (request) => ({ handle: credentialOf(request).handle, access: USE }),
      authorizeKeys: (request, keys) => {
        if (request.caller !== null) return
        const hidden = keys.find((k) => !ctx.isPublicKey(k))
        if (hidden !== undefined) throw new AppError('forbidden', `"${hidden}" is a private key: it needs an API key`)
      },
      visibleData
    })
  }
}
