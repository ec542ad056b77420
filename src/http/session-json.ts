/** The wire form of sessions: ISO-8601 UTC times, data as stored. */
import type { FastifyReply } from 'fastify'
import type { SessionData, SessionMeta, SessionRecord } from '../store/types.js'

export interface SessionMetaJson {
  handle: string
  userId: string | null
  version: number
  authenticatedAt: string | null
  createdAt: string
  lastSeenAt: string
  expiresAt: string
  absoluteExpiresAt: string
  userAgent: string | null
  ip: string | null
}

export interface SessionJson extends SessionMetaJson {
  data: SessionData
}

const iso = (ms: number): string => new Date(ms).toISOString()

export function sessionMetaJson(s: SessionMeta): SessionMetaJson {
  return {
    handle: s.handle,
    userId: s.userId,
    version: s.version,
    authenticatedAt: s.authenticatedAt === null ? null : iso(s.authenticatedAt),
    createdAt: iso(s.createdAt),
    lastSeenAt: iso(s.lastSeenAt),
    expiresAt: iso(s.expiresAt),
    absoluteExpiresAt: iso(s.absoluteExpiresAt),
    userAgent: s.userAgent,
    ip: s.ip
  }
}

export function sessionJson(s: SessionRecord, data: SessionData = s.data): SessionJson {
  return { ...sessionMetaJson(s), data }
}

export function setEtag(reply: FastifyReply, version: number): FastifyReply {
  return reply.header('etag', `"${version}"`)
}
