/**
 * Parsing of the Lua scripts' replies (src/store/redis/scripts): statuses become
 * AppErrors, session hashes and listing rows become records. Anything of an
 * unexpected shape is a bug, thrown as a plain Error (an internal error).
 */
import { AppError, ERROR_STATUS, type ErrorCode } from '../../errors.js'
import type { EndReason, EventId, EventType, StoredEvent } from '../events.js'
import { parseStoredValue } from '../rules.js'
import type { SessionData, SessionMeta, SessionRecord } from '../types.js'

const AT = '@'.charCodeAt(0)

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

/** Where each metadata field sits in a listing row (lib.lua `row`): handle, @v, @u, @a, @c, @s, @e, @x, @g, @p. */
const ROW_INDEX = new Map([['@v', 1], ['@u', 2], ['@a', 3], ['@c', 4], ['@s', 5], ['@e', 6], ['@x', 7], ['@g', 8], ['@p', 9]])
const ROW_LENGTH = 10

function metaOfFields(row: readonly unknown[]): SessionMeta {
  const [handle, version, userId, authenticatedAt, createdAt, lastSeenAt, expiresAt, absoluteExpiresAt, userAgent, ip] = row
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

/** A listing row of session metadata. */
export const metaOfRow = (value: unknown): SessionMeta => metaOfFields(list(value))

/** A session hash (HGETALL, as every read replies) as a record, in one pass: "@" fields are metadata, the rest data. */
export function recordOf(handle: string, reply: unknown): SessionRecord {
  const flat = list(reply)
  const data = Object.create(null) as SessionData
  const row = new Array<unknown>(ROW_LENGTH)
  row[0] = handle
  for (let i = 0; i < flat.length; i += 2) {
    const field = text(flat[i])
    const value = text(flat[i + 1])
    if (field.charCodeAt(0) !== AT) data[field] = parseStoredValue(value)
    else {
      const at = ROW_INDEX.get(field)
      if (at !== undefined) row[at] = value
    }
  }
  return Object.assign(metaOfFields(row), { data })
}

/** A stream entry id `ms-seq`. */
export function eventIdOf(value: unknown): EventId {
  const match = /^(\d+)-(\d+)$/.exec(text(value))
  if (match === null) throw new Error('unexpected stream id')
  return { ms: Number(match[1]), seq: Number(match[2]) }
}

const EVENT_TYPES: Readonly<Record<string, EventType>> = { c: 'session.created', r: 'session.rotated', e: 'session.ended' }

/** An entry of a shard's event stream (lib.lua `record`: fields t, h, u, r, n, i, a). */
export function storedEventOf(value: unknown): StoredEvent {
  const [id, flat] = list(value)
  const fields = new Map<string, string>()
  const values = list(flat)
  for (let i = 0; i < values.length; i += 2) fields.set(text(values[i]), text(values[i + 1]))
  const field = (name: string): string => fields.get(name) ?? ''
  const type = EVENT_TYPES[field('t')]
  if (type === undefined) throw new Error('unexpected event type')
  const pairs = field('i') === '' ? [] : (JSON.parse(field('i')) as string[])
  const index: Record<string, string> = {}
  for (let i = 0; i < pairs.length; i += 2) index[pairs[i] ?? ''] = pairs[i + 1] ?? ''
  return {
    id: eventIdOf(id),
    type,
    handle: field('h'),
    userId: field('u') === '' ? null : field('u'),
    reason: field('r') === '' ? null : (field('r') as EndReason),
    newHandle: field('n') === '' ? null : field('n'),
    index,
    actor: field('a')
  }
}
