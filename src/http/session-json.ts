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
  // Extended in place rather than spread into a copy: this is every read's response.
  const json = sessionMetaJson(s) as SessionJson
  json.data = data
  return json
}

const nullableString = { type: ['string', 'null'] } as const
const time = { type: 'string' } as const
const metaProperties = {
  handle: { type: 'string' },
  userId: nullableString,
  version: { type: 'integer' },
  authenticatedAt: nullableString,
  createdAt: time,
  lastSeenAt: time,
  expiresAt: time,
  absoluteExpiresAt: time,
  userAgent: nullableString,
  ip: nullableString
} as const

/**
 * Response schemas of the routes that answer a whole session, so fastify
 * serializes them with a compiled serializer instead of JSON.stringify (data
 * values are any JSON and go through JSON.stringify one by one). Only the
 * listed fields can ever leave.
 */
export const sessionSchema = {
  type: 'object',
  properties: { ...metaProperties, data: { type: 'object', additionalProperties: true } },
  required: [...Object.keys(metaProperties), 'data']
} as const

/** `201 {token, session}` of a create or a rotation. */
export const issuedSessionSchema = {
  type: 'object',
  properties: { token: { type: 'string' }, session: sessionSchema },
  required: ['token', 'session']
} as const

export function setEtag(reply: FastifyReply, version: number): FastifyReply {
  return reply.header('etag', `"${version}"`)
}
