/**
 * The caller's own session (`/v1/session...`), addressed by the session
 * credential: who am I, log out, rotate, devices, data. Every use slides the
 * idle expiry. Without an API key only PUBLIC_KEYS data is visible.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { z } from 'zod'
import { AppError } from '../../errors.js'
import type { SessionData, SessionRecord, Store } from '../../store/types.js'
import { newTokenInShard, shardOf } from '../../tokens.js'
import { audit, changeBy, type AuditTarget } from '../audit.js'
import { requireScope } from '../plugins/api-keys.js'
import { credentialOf } from '../plugins/credentials.js'
import { addressedBy } from '../plugins/problems.js'
import { rethrowAs } from '../problem.js'
import { handleParams, parse, userId } from '../schemas.js'
import { issuedSessionSchema, publicData, sessionJson, sessionMetaJson, sessionSchema, setEtag } from '../session-json.js'
import dataRoutes from './data.js'

const USE = { touch: true } as const
const rotateBody = z.strictObject({ userId: userId.optional() })
const devicesQuery = z.object({ all: z.stringbool().default(false) })

/** The user both belong to; throws `session_not_found` unless `other` is another live session of `current`'s user. */
async function assertOtherDevice(store: Store, current: SessionRecord, other: string): Promise<string> {
  const notMine = new AppError('session_not_found', 'not another session of this user')
  if (current.userId === null || other === current.handle) throw notMine
  const target = await store.get(other, { touch: false })
  if (target.userId !== current.userId) throw notMine
  return current.userId
}

export default async function sessionRoutes(app: FastifyInstance): Promise<void> {
  const { store, sessionCookies: cookies, clock, isPublicKey } = app
  app.addHook('onRoute', addressedBy('credential'))
  app.addHook('onRequest', app.authenticateSession({ guardCrossSite: true, readApiKey: true }))
  app.addHook('onSend', app.renewSessionCookie)

  const visibleData = (request: FastifyRequest, session: SessionRecord): SessionData =>
    request.caller !== null ? session.data : publicData(session.data, isPublicKey)
  const sendSession = (request: FastifyRequest, reply: FastifyReply, session: SessionRecord) =>
    setEtag(reply, session.version).send(sessionJson(session, visibleData(request, session)))

  app.get('/v1/session', { schema: { response: { 200: sessionSchema } } }, async (request, reply) => {
    const session = await store.get(credentialOf(request).handle, USE)
    return sendSession(request, reply, session)
  })

  app.delete('/v1/session', async (request, reply) => {
    const { handle } = credentialOf(request)
    // A failed destroy tells rotated-away from unknown through the read.
    if (!(await store.destroy(handle, { ...changeBy(request), reason: 'logout' }))) await store.get(handle, { touch: false })
    cookies.clear(reply)
    return reply.code(204).send()
  })

  app.post('/v1/session/rotate', { schema: { response: { 201: issuedSessionSchema } } }, async (request, reply) => {
    requireScope(request.caller, 'service')
    const body = parse(rotateBody, request.body ?? {}, 'body')
    const { handle } = credentialOf(request)
    const next = newTokenInShard(shardOf(handle))
    const by = changeBy(request)
    const session = await store.rotate(handle, next.handle, body.userId === undefined ? by : { ...by, userId: body.userId })
    // A rotation ends no session: the same one goes on under the new handle.
    audit(request, 'rotate', body.userId === undefined ? { handle, newHandle: next.handle } : { handle, newHandle: next.handle, userId: body.userId }, 0)
    cookies.issue(reply, next.token, session.absoluteExpiresAt, clock())
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
    const by = changeBy(request)
    let revoked: number
    if (current.userId === null) revoked = all && (await store.destroy(current.handle, { ...by, reason: 'revoked' })) ? 1 : 0
    else revoked = await store.revokeUserSessions(current.userId, all ? by : { ...by, exceptHandle: current.handle })
    const target: AuditTarget =
      current.userId === null ? { handle: current.handle } : all ? { userId: current.userId } : { userId: current.userId, except: current.handle }
    audit(request, 'logout_all', target, revoked)
    if (all) cookies.clear(reply)
    return { revoked }
  })

  app.delete('/v1/session/devices/:handle', async (request, reply) => {
    const { handle: other } = parse(handleParams, request.params, 'path')
    const current = await store.get(credentialOf(request).handle, USE)
    // The other session is addressed as a device of this user, not by this request's credential.
    const userId = await assertOtherDevice(store, current, other).catch(rethrowAs('device'))
    audit(request, 'device_revoke', { userId, handle: other }, (await store.destroy(other, { ...changeBy(request), reason: 'revoked' })) ? 1 : 0)
    return reply.code(204).send()
  })

  await app.register(dataRoutes, {
    prefix: '/v1/session',
    resolve: (request) => ({ handle: credentialOf(request).handle, access: USE }),
    authorizeKeys: (request, keys) => {
      if (request.caller !== null) return
      const hidden = keys.find((k) => !isPublicKey(k))
      if (hidden !== undefined) throw new AppError('forbidden', `"${hidden}" is a private key: it needs an API key`)
    },
    visibleData
  })
}
