/**
 * The wire form of sessions: ISO-8601 UTC times, data as stored, and what of
 * the data a browser may see (PUBLIC_KEYS).
 */
import type { FastifyReply } from 'fastify'
import type { SessionData, SessionMeta, SessionRecord } from '../store/types.js'
import { isoTime } from './iso-time.js'

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

export function sessionMetaJson(s: SessionMeta): SessionMetaJson {
  return {
    handle: s.handle,
    userId: s.userId,
    version: s.version,
    authenticatedAt: s.authenticatedAt === null ? null : isoTime(s.authenticatedAt),
    createdAt: isoTime(s.createdAt),
    lastSeenAt: isoTime(s.lastSeenAt),
    expiresAt: isoTime(s.expiresAt),
    absoluteExpiresAt: isoTime(s.absoluteExpiresAt),
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

/** The data keys a browser may see (those `isPublicKey` accepts), as a null-prototype map. */
export function publicData(data: SessionData, isPublicKey: (key: string) => boolean): SessionData {
  const visible = Object.create(null) as SessionData
  for (const key of Object.keys(data)) if (isPublicKey(key)) visible[key] = data[key] ?? null
  return visible
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
 * serializes them with a compiled serializer instead of JSON.stringify. Only
 * the listed fields can ever leave. `data` is any JSON object and has no
 * schema, so the serializer hands it whole to JSON.stringify.
 */
export const sessionSchema = {
  type: 'object',
  properties: { ...metaProperties, data: {} },
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
