/**
 * The session cookie (spec §4): issued with the token, optionally signed via
 * @fastify/cookie (first secret signs, all verify), kept by the browser until
 * the absolute expiry while the server enforces the idle limit.
 */
import type { FastifyReply } from 'fastify'
import type { Config } from '../config.js'

export interface SessionCookies {
  readonly name: string
  readonly signed: boolean
  /** Sets the cookie for `token`, living until `absoluteExpiresAt`. */
  issue(reply: FastifyReply, token: string, absoluteExpiresAt: number, now: number): void
  /** Tells the browser to drop the cookie (Max-Age=0). */
  clear(reply: FastifyReply): void
}

export function createSessionCookies(cookie: Config['cookie']): SessionCookies {
  const base = {
    path: '/',
    httpOnly: true,
    secure: cookie.secure,
    sameSite: cookie.sameSite,
    ...(cookie.domain === undefined ? {} : { domain: cookie.domain })
  } as const
  const signed = cookie.secrets.length > 0
  return {
    name: cookie.name,
    signed,
    issue(reply, token, absoluteExpiresAt, now) {
      const maxAge = Math.max(0, Math.ceil((absoluteExpiresAt - now) / 1000))
      reply.setCookie(cookie.name, token, { ...base, signed, ...(cookie.persistent ? { maxAge } : {}) })
    },
    clear(reply) {
      reply.setCookie(cookie.name, '', { ...base, maxAge: 0, expires: new Date(0) })
    }
  }
}
