/**
 * What every credential-addressed route shares: the credential is read (and
 * its signature checked) before anything else, an ended or unknown session
 * is 401 with its cookie cleared, a just-rotated one is 401 with the cookie
 * left alone, and an old-secret cookie is re-issued with the first secret.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, onSendHookHandler } from 'fastify'
import { AppError, isAppError } from '../errors.js'
import type { SessionData } from '../store/types.js'
import type { Caller } from './api-keys.js'
import type { HttpContext } from './context.js'
import { assertNotCrossSite, type Credential } from './credential.js'
import { syncHook } from './hooks.js'
import { errorHandler } from './problem.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The session credential of a credential-addressed request. */
    credential: Credential | null
    /** The API key that came with it, if any. */
    caller: Caller | null
  }
}

export function credentialOf(request: FastifyRequest): Credential {
  if (request.credential === null) throw new AppError('unauthenticated', 'no session credential')
  return request.credential
}

/** The data keys a browser may see (PUBLIC_KEYS), as a null-prototype map. */
export function publicData(ctx: HttpContext, data: SessionData): SessionData {
  const visible = Object.create(null) as SessionData
  for (const key of Object.keys(data)) if (ctx.isPublicKey(key)) visible[key] = data[key] ?? null
  return visible
}

export function useCredentialScope(app: FastifyInstance, ctx: HttpContext, options: { guardCrossSite: boolean }): void {
  const allowedOrigins = new Set(ctx.config.allowedOrigins)
  app.decorateRequest('credential', null)
  app.decorateRequest('caller', null)

  const authenticate = (request: FastifyRequest): void => {
    request.caller = ctx.apiKeys(request)
    const credential = ctx.readCredential(request)
    if (credential === null) throw new AppError('unauthenticated', 'no session credential: send the session cookie or X-Session-Token')
    request.credential = credential
    if (options.guardCrossSite && credential.source === 'cookie' && request.caller === null) assertNotCrossSite(request, allowedOrigins)
  }
  app.addHook('onRequest', syncHook(authenticate))
  app.addHook('onSend', renewCookieHook(ctx))

  app.setErrorHandler((error, request, reply) => {
    if (isAppError(error) && error.code === 'session_not_found') {
      if (request.credential?.source === 'cookie') ctx.cookies.clear(reply)
      return errorHandler(new AppError('session_not_found', error.message, { status: 401 }), request, reply)
    }
    return errorHandler(error, request, reply)
  })
}

/**
 * A cookie that verified only against an older COOKIE_SECRET is re-issued,
 * signed with the first, on any successful response that set no cookie itself.
 */
function renewCookieHook(ctx: HttpContext): onSendHookHandler {
  const renew = async (request: FastifyRequest, reply: FastifyReply, credential: Credential): Promise<void> => {
    try {
      const session = await ctx.store.get(credential.handle, { touch: false })
      ctx.cookies.issue(reply, credential.token, session.absoluteExpiresAt, ctx.clock())
    } catch (err) {
      // The response stands; the old-secret cookie is re-issued on a later request.
      request.log.warn({ err }, 'could not renew the session cookie')
    }
  }
  // Callback style: nearly every response has nothing to renew, and passes through without a promise.
  return (request, reply, payload, done) => {
    const credential = request.credential
    if (credential === null || !credential.renewCookie || reply.statusCode >= 400 || reply.hasHeader('set-cookie')) {
      done(null, payload)
      return
    }
    void renew(request, reply, credential).then(() => {
      done(null, payload)
    })
  }
}
