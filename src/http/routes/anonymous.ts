/**
 * `POST /v1/session/anonymous`: a browser starts its own anonymous session
 * (ALLOW_ANONYMOUS=true), or gets back the one its cookie still names. The
 * cookie is the only credential; a token the client made up is never
 * adopted. Rate-limited per client IP so nobody can fill the store.
 */
import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { AppError, isAppError } from '../../errors.js'
import type { SessionData, SessionRecord } from '../../store/types.js'
import { handleOf, newToken } from '../../tokens.js'
import { changeBy } from '../audit.js'
import type { Credential } from '../plugins/credentials.js'
import { publicData, sessionJson, setEtag } from '../session-json.js'

export default async function anonymousRoutes(app: FastifyInstance): Promise<void> {
  const { store, config, sessionCookies: cookies, clock, isPublicKey } = app

  const publicView = (session: SessionRecord) => ({ session: sessionJson(session, publicData(session.data, isPublicKey)) })

  /**
   * The cookie's credential, or null when a new session is due: a missing,
   * malformed or forged cookie is not an error here, it is replaced.
   */
  const cookieCredential = (request: FastifyRequest): Credential | null => {
    try {
      return app.readCredential(request, { headerAllowed: false })
    } catch (err) {
      if (isAppError(err) && err.code === 'unauthenticated') return null
      throw err
    }
  }

  /** The live session the cookie names, or null: an ended one is the ordinary reason to start a new one, not a problem. */
  const existing = (credential: Credential): Promise<SessionRecord | null> =>
    store.get(credential.handle, { touch: true }).catch((err: unknown) => {
      if (isAppError(err) && err.code === 'session_not_found') return null
      throw err
    })

  await app.register(rateLimit, {
    global: false,
    errorResponseBuilder: (_request, context) =>
      new AppError('too_many_requests', `at most ${context.max} anonymous sessions per minute from one address; retry in ${Math.ceil(context.ttl / 1000)} s`)
  })

  app.post(
    '/v1/session/anonymous',
    { config: { rateLimit: { max: config.anonymousRateLimit, timeWindow: 60_000, keyGenerator: (request: FastifyRequest) => request.ip } } },
    async (request, reply) => {
      if (!config.allowAnonymous) throw new AppError('forbidden', 'anonymous sessions are disabled (ALLOW_ANONYMOUS=false)')
      app.refuseCrossSite(request)
      const credential = cookieCredential(request)
      const current = credential === null ? null : await existing(credential)
      if (current !== null && credential !== null) {
        if (credential.renewCookie) cookies.issue(reply, credential.token, current.absoluteExpiresAt, clock())
        return setEtag(reply, current.version).code(200).send(publicView(current))
      }
      const token = newToken()
      const session = await store.create({
        handle: handleOf(token),
        userId: null,
        data: Object.create(null) as SessionData,
        idleTtlMs: config.session.idleTtlSec * 1000,
        absoluteTtlMs: config.session.absoluteTtlSec * 1000,
        userAgent: request.headers['user-agent'] ?? null,
        ip: request.ip
      }, changeBy(request))
      cookies.issue(reply, token, session.absoluteExpiresAt, clock())
      return setEtag(reply, session.version).code(201).send(publicView(session))
    }
  )
}
