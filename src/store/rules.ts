/**
 * Pure rules shared by every backend: key and value limits, what text and
 * numbers a value may hold, batch shape,
 * index eligibility, paging, integer increments, initial TTLs (the sliding
 * rule is in expiry.ts), listing order and the per-user limit's choice of
 * victims. No I/O here, so each is tested alone.
 */
import { AppError } from '../errors.js'
import { DATA_KEY_PATTERN, DATA_KEY_RULE, MAX_INDEX_VALUE_BYTES, MAX_VALUE_DEPTH } from '../limits.js'
import { HANDLE_PATTERN } from '../tokens.js'
import type { EncodedBatch, EncodedEntry } from './backend.js'
import { indexPairs, type IndexPlan } from './index-entries.js'
import { slideExpiry } from './expiry.js'
import type { BatchOps, CreateSessionInput, JsonValue, SessionData, SessionMeta, StoreLimits } from './types.js'

/** A key as it may appear in a message: long enough to recognise, never the whole of a hostile one. */
const shown = (key: string): string => `"${key.slice(0, 140)}"`

export function assertDataKey(key: string): void {
  if (!DATA_KEY_PATTERN.test(key)) throw new AppError('validation_failed', `key ${shown(key)} ${DATA_KEY_RULE}`)
}

export function assertIndexedKey(key: string, plan: IndexPlan): void {
  if (!plan.names.has(key)) throw new AppError('validation_failed', `${shown(key)} is not an INDEXED_KEYS entry`)
}

/** A listing page: a positive integer size and, after the first page, a cursor this service issued (a handle). */
export function assertPage(limit: number, cursor: string | null): void {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new AppError('validation_failed', 'limit must be a positive integer')
  if (cursor !== null && !HANDLE_PATTERN.test(cursor)) throw new AppError('validation_failed', 'cursor is not one this service issued')
}

/** A lone surrogate: text that is not valid UTF-16, which Redis (UTF-8) would turn into U+FFFD and memory would keep. */
const LONE_SURROGATE = /\p{Cs}/u

/** Throws unless `text` is valid UTF-16, so that both backends keep it alike. */
export function assertText(what: string, text: string): void {
  if (LONE_SURROGATE.test(text)) throw new AppError('validation_failed', `${what} holds text that is not valid UTF-16 (a lone surrogate)`)
}

const isPlainObject = (value: object): boolean => {
  const prototype = Object.getPrototypeOf(value) as unknown
  return prototype === Object.prototype || prototype === null
}

/**
 * Throws unless `value` reads back exactly from its JSON text and every
 * reader can take it (I-JSON, RFC 7493): arrays and objects nested at most
 * MAX_VALUE_DEPTH deep, numbers finite and within the safe integer range
 * (beyond it a double cannot tell neighbouring integers apart), strings and
 * member names valid UTF-16. It recurses at most MAX_VALUE_DEPTH deep, so no
 * value overflows the stack, as JSON.stringify of a deeper one would.
 */
export function assertStorableValue(key: string, value: JsonValue): void {
  const refuse = (why: string): never => {
    throw new AppError('validation_failed', `value of ${shown(key)} ${why}`)
  }
  const walk = (item: unknown, depth: number): void => {
    if (typeof item === 'string') {
      if (LONE_SURROGATE.test(item)) refuse('holds text that is not valid UTF-16 (a lone surrogate)')
    } else if (typeof item === 'number') {
      if (!(Math.abs(item) <= Number.MAX_SAFE_INTEGER)) refuse(`holds a number that is not finite or beyond ±${Number.MAX_SAFE_INTEGER} (send it as a string)`)
    } else if (typeof item === 'object' && item !== null && (Array.isArray(item) || isPlainObject(item))) {
      if (depth === MAX_VALUE_DEPTH) refuse(`nests arrays and objects deeper than ${MAX_VALUE_DEPTH} levels`)
      if (Array.isArray(item)) {
        for (let i = 0; i < item.length; i++) walk(item[i], depth + 1)
      } else {
        for (const name of Object.keys(item)) {
          if (LONE_SURROGATE.test(name)) refuse('holds a member name that is not valid UTF-16 (a lone surrogate)')
          walk((item as Record<string, unknown>)[name], depth + 1)
        }
      }
    } else if (typeof item !== 'boolean' && item !== null) {
      refuse('is not a JSON value')
    }
  }
  walk(value, 0)
}

/** The JSON text a value is stored as; throws when it is not storable or over maxValueBytes. */
export function encodeValue(key: string, value: JsonValue, limits: StoreLimits): string {
  assertStorableValue(key, value)
  const text = JSON.stringify(value)
  if (Buffer.byteLength(text) > limits.maxValueBytes) {
    throw new AppError('payload_too_large', `value of "${key}" is over ${limits.maxValueBytes} bytes serialized`)
  }
  return text
}

const QUOTE = 0x22

/**
 * JSON.parse of a stored JSON text, with a shortcut for the usual value, a
 * string with nothing escaped: JSON.stringify writes every quote, backslash,
 * control character and lone surrogate of a string as an escape, so a text
 * in quotes without a backslash is the string itself between them.
 */
export function parseStoredValue(text: string): JsonValue {
  if (text.charCodeAt(0) === QUOTE && !text.includes('\\')) return text.slice(1, -1)
  return JSON.parse(text) as JsonValue
}

/** What one stored key costs against maxSessionBytes: the key plus its JSON text, in bytes. */
export function entryBytes(key: string, text: string): number {
  return Buffer.byteLength(key) + Buffer.byteLength(text)
}

/** Throws unless a session with `keys` keys of `bytes` bytes in all fits the limits. */
export function assertSessionFits(keys: number, bytes: number, limits: StoreLimits): void {
  if (keys > limits.maxKeys) throw new AppError('payload_too_large', `a session holds at most ${limits.maxKeys} keys`)
  if (bytes > limits.maxSessionBytes) throw new AppError('payload_too_large', `a session holds at most ${limits.maxSessionBytes} bytes of data`)
}

/** A value to write under a checked key: its JSON text and what it files the session under. */
export function encodeEntry(key: string, value: JsonValue, limits: StoreLimits, plan: IndexPlan): EncodedEntry {
  return { key, text: encodeValue(key, value, limits), filed: indexPairs(plan, key, value, limits.maxIndexValues) }
}

/** An index value asked for (list, revoke): one a session could be filed under. */
export function assertIndexValue(value: string): void {
  assertText('the index value', value)
  if (Buffer.byteLength(value) > MAX_INDEX_VALUE_BYTES) {
    throw new AppError('validation_failed', `the index value is over ${MAX_INDEX_VALUE_BYTES} bytes, the most a session can be filed under`)
  }
}

/** The most UTF-16 units of a userAgent that a session keeps. */
const USER_AGENT_MAX = 256

const isHighSurrogate = (unit: number): boolean => unit >= 0xd800 && unit <= 0xdbff
const isLowSurrogate = (unit: number): boolean => unit >= 0xdc00 && unit <= 0xdfff

/** A userAgent as a session keeps it: its first USER_AGENT_MAX units, never half a surrogate pair, and valid UTF-16. */
export function storedUserAgent(userAgent: string | null): string | null {
  if (userAgent === null) return null
  let end = Math.min(userAgent.length, USER_AGENT_MAX)
  if (isHighSurrogate(userAgent.charCodeAt(end - 1)) && isLowSurrogate(userAgent.charCodeAt(end))) end -= 1
  const kept = userAgent.slice(0, end)
  assertText('userAgent', kept)
  return kept
}

/** A stored JSON text (an incremented value) as an entry, filed by the same rule as a written value. */
export function storedEntry(key: string, text: string, limits: StoreLimits, plan: IndexPlan): EncodedEntry {
  return { key, text, filed: indexPairs(plan, key, parseStoredValue(text), limits.maxIndexValues) }
}

/** Validates initial data and returns it encoded, with its total size. */
export function encodeData(data: SessionData, limits: StoreLimits, plan: IndexPlan): { entries: EncodedEntry[]; bytes: number } {
  const entries: EncodedEntry[] = []
  let bytes = 0
  for (const key of Object.keys(data)) {
    assertDataKey(key)
    const entry = encodeEntry(key, data[key] as JsonValue, limits, plan)
    entries.push(entry)
    bytes += entryBytes(key, entry.text)
  }
  assertSessionFits(entries.length, bytes, limits)
  return { entries, bytes }
}

/** An encoded batch: every key validated, every value encoded, no key named twice. */
export function encodeBatch(ops: BatchOps, limits: StoreLimits, plan: IndexPlan): EncodedBatch {
  const seen = new Set<string>()
  const claim = (key: string): void => {
    assertDataKey(key)
    if (seen.has(key)) throw new AppError('validation_failed', `key "${key}" appears more than once in the batch`)
    seen.add(key)
  }
  const set: EncodedEntry[] = []
  for (const key of Object.keys(ops.set ?? {})) {
    claim(key)
    set.push(encodeEntry(key, (ops.set as SessionData)[key] as JsonValue, limits, plan))
  }
  const del: string[] = []
  for (const key of ops.del ?? []) {
    claim(key)
    del.push(key)
  }
  const incr: (readonly [string, number])[] = []
  for (const [key, by] of Object.entries(ops.incr ?? {})) {
    claim(key)
    if (!Number.isSafeInteger(by)) throw new AppError('validation_failed', `incr of "${key}" must be a safe integer`)
    incr.push([key, by])
  }
  if (seen.size === 0) throw new AppError('validation_failed', 'the batch names no key')
  return { set, del, incr }
}

/** The JSON text of `current + by`; a non-integer or an out-of-range result is `conflict`. */
export function incrementText(key: string, current: string | undefined, by: number): string {
  const base = current === undefined ? 0 : (JSON.parse(current) as unknown)
  if (typeof base !== 'number' || !Number.isSafeInteger(base)) {
    throw new AppError('conflict', `"${key}" does not hold an integer`)
  }
  const sum = base + by
  if (!Number.isSafeInteger(sum)) throw new AppError('conflict', `"${key}" would leave the safe integer range`)
  return String(sum)
}

/** The metadata of a session created at `now` (version 1; authenticated iff a user is bound). */
export function initialMeta(input: Omit<CreateSessionInput, 'data'>, now: number): SessionMeta {
  const absoluteExpiresAt = now + input.absoluteTtlMs
  return {
    handle: input.handle,
    userId: input.userId,
    version: 1,
    authenticatedAt: input.userId === null ? null : now,
    createdAt: now,
    lastSeenAt: now,
    expiresAt: slideExpiry(now, input.idleTtlMs, absoluteExpiresAt),
    absoluteExpiresAt,
    userAgent: input.userAgent,
    ip: input.ip
  }
}

export function assertPrecondition(ifMatch: number | undefined, version: number): void {
  if (ifMatch !== undefined && ifMatch !== version) {
    throw new AppError('precondition_failed', `the session is at version ${version}, not ${ifMatch}`)
  }
}

const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

/** Least recently used first: lowest lastSeenAt, then createdAt, then handle (a total order). */
export function byLeastRecentUse(a: SessionMeta, b: SessionMeta): number {
  return a.lastSeenAt - b.lastSeenAt || a.createdAt - b.createdAt || compareText(a.handle, b.handle)
}

/** A user's device list: the exact reverse of the eviction order. */
export function byMostRecentUse(a: SessionMeta, b: SessionMeta): number {
  return byLeastRecentUse(b, a)
}

/** Binding order: when the user was bound, then handle. */
function byBinding(a: SessionMeta, b: SessionMeta): number {
  return (a.authenticatedAt ?? 0) - (b.authenticatedAt ?? 0) || compareText(a.handle, b.handle)
}

/**
 * MAX_SESSIONS_PER_USER, after `keep` was bound to its user: the handles to
 * end so that the user has at most `max`, least recently used first, never
 * `keep` and never one bound after it. Each binding runs this step itself
 * after its own write, so without the last rule two concurrent logins at the
 * limit would end each other.
 */
export function userLimitVictims(sessions: readonly SessionMeta[], keep: string, max: number | null): string[] {
  if (max === null || sessions.length <= max) return []
  const kept = sessions.find((s) => s.handle === keep)
  // Already ended (by a later binding's limit or a logout-all): that call did the enforcing.
  if (kept === undefined) return []
  return sessions
    .filter((s) => s.handle !== keep && byBinding(s, kept) < 0)
    .sort(byLeastRecentUse)
    .slice(0, sessions.length - max)
    .map((s) => s.handle)
}
