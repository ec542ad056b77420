/**
 * Parsing of the Lua scripts' replies (src/store/scripts): statuses become
 * AppErrors, session hashes and listing rows become records. Anything of an
 * unexpected shape is a bug, thrown as a plain Error (an internal error).
 */
import { AppError, ERROR_STATUS, type ErrorCode } from '../errors.js'
import type { JsonValue, SessionData, SessionMeta, SessionRecord } from './types.js'

function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_STATUS, value)
}

/** A script's {status, ...} reply: the rest when the status is 'ok', else the AppError it names. */
export function okReply(reply: unknown): unknown[] {
  if (!Array.isArray(reply)) throw new Error('unexpected script reply')
  const [status, detail] = reply as unknown[]
  if (status === 'ok') return reply.slice(1) as unknown[]
  if (isErrorCode(status)) throw new AppError(status, String(detail))
  throw new Error(`unexpected script status ${String(status)}`)
}

export function list(value: unknown): unknown[] {
  if (!Array.isArray(value)) throw new Error('unexpected script reply')
  return value as unknown[]
}

export function text(value: unknown): string {
  if (typeof value !== 'string') throw new Error('unexpected script reply')
  return value
}

export function num(value: unknown): number {
  const n = typeof value === 'number' ? value : Number(value)
  if (!Number.isFinite(n)) throw new Error('unexpected script reply')
  return n
}

export const nullableText = (value: unknown): string | null => (value === null || value === undefined ? null : text(value))
const nullableNum = (value: unknown): number | null => (value === null || value === undefined ? null : num(value))

/** A session hash (HGETALL) as a record: "@" fields are metadata, the rest data. */
export function recordOf(handle: string, reply: unknown): SessionRecord {
  const flat = list(reply)
  const meta = new Map<string, string>()
  const data = Object.create(null) as SessionData
  for (let i = 0; i < flat.length; i += 2) {
    const field = text(flat[i])
    const value = text(flat[i + 1])
    if (field.startsWith('@')) meta.set(field, value)
    else data[field] = JSON.parse(value) as JsonValue
  }
  return {
    handle,
    userId: meta.get('@u') ?? null,
    version: num(meta.get('@v')),
    authenticatedAt: nullableNum(meta.get('@a')),
    createdAt: num(meta.get('@c')),
    lastSeenAt: num(meta.get('@s')),
    expiresAt: num(meta.get('@e')),
    absoluteExpiresAt: num(meta.get('@x')),
    userAgent: meta.get('@g') ?? null,
    ip: meta.get('@p') ?? null,
    data
  }
}

/** A listing row (lib.lua `row`): handle, @v, @u, @a, @c, @s, @e, @x, @g, @p. */
export function metaOfRow(value: unknown): SessionMeta {
  const [handle, version, userId, authenticatedAt, createdAt, lastSeenAt, expiresAt, absoluteExpiresAt, userAgent, ip] = list(value)
  return {
    handle: text(handle),
    userId: nullableText(userId),
    version: num(version),
    authenticatedAt: nullableNum(authenticatedAt),
    createdAt: num(createdAt),
    lastSeenAt: num(lastSeenAt),
    expiresAt: num(expiresAt),
    absoluteExpiresAt: num(absoluteExpiresAt),
    userAgent: nullableText(userAgent),
    ip: nullableText(ip)
  }
}
