/**
 * The session cookie (spec §4) as `app.sessionCookies`: issued with the token,
 * signed when COOKIE_SECRET is set (via @fastify/cookie, registered here: the
 * first secret signs, all verify), kept by the browser until the absolute
 * expiry while the server enforces the idle limit.
 */
import fastifyCookie from '@fastify/cookie'
import type { FastifyReply } from 'fastify'
import fp from 'fastify-plugin'

export interface SessionCookies {
  readonly name: string
  /** Whether cookies are signed (COOKIE_SECRET set), so a read must verify them. */
  readonly signed: boolean
  /** Sets the cookie for `token`, living until `absoluteExpiresAt`. */
  readonly issue: (reply: FastifyReply, token: string, absoluteExpiresAt: number, now: number) => void
  /** Tells the browser to drop the cookie (Max-Age=0). */
  readonly clear: (reply: FastifyReply) => void
}

declare module 'fastify' {
  interface FastifyInstance {
    readonly sessionCookies: SessionCookies
  }
}

export default fp(
  async (app) => {
    const cookie = app.config.cookie
    const signed = cookie.secrets.length > 0
    await app.register(fastifyCookie, signed ? { secret: [...cookie.secrets] } : {})
    const base = {
      path: '/',
      httpOnly: true,
      secure: cookie.secure,
      sameSite: cookie.sameSite,
      ...(cookie.domain === undefined ? {} : { domain: cookie.domain })
    } as const
    app.decorate('sessionCookies', {
      name: cookie.name,
      signed,
      issue(reply, token, absoluteExpiresAt, now) {
        const maxAge = Math.max(0, Math.ceil((absoluteExpiresAt - now) / 1000))
        reply.setCookie(cookie.name, token, { ...base, signed, ...(cookie.persistent ? { maxAge } : {}) })
      },
      clear(reply) {
        reply.setCookie(cookie.name, '', { ...base, maxAge: 0, expires: new Date(0) })
      }
    } satisfies SessionCookies)
  },
  { name: 'sessiond-cookies', fastify: '5.x', dependencies: ['sessiond-config'] }
)
