/**
 * Pure rules shared by every backend: key and value limits, batch shape,
 * integer increments and TTL math. No I/O here, so each is tested alone.
 */
import { DATA_KEY_PATTERN } from '../limits.js'
import { AppError } from '../errors.js'
import type { BatchOps, CreateSessionInput, JsonValue, SessionData, SessionMeta, StoreLimits } from './types.js'

export function assertDataKey(key: string): void {
  if (!DATA_KEY_PATTERN.test(key)) {
    throw new AppError('validation_failed', `key "${key.slice(0, 140)}" must be 1-128 characters of [A-Za-z0-9._:-]`)
  }
}

/** The JSON text a value is stored as; throws when it is over maxValueBytes. */
export function encodeValue(key: string, value: JsonValue, limits: StoreLimits): string {
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

/** Validates initial data and returns it encoded, with its totals. */
export function encodeData(data: SessionData, limits: StoreLimits): { entries: [string, string][]; bytes: number } {
  const entries: [string, string][] = []
  let bytes = 0
  for (const key of Object.keys(data)) {
    assertDataKey(key)
    const text = encodeValue(key, data[key] as JsonValue, limits)
    entries.push([key, text])
    bytes += entryBytes(key, text)
  }
  assertSessionFits(entries.length, bytes, limits)
  return { entries, bytes }
}

/** An encoded batch: every key validated, every value encoded, no key named twice. */
export interface EncodedBatch {
  readonly set: readonly [string, string][]
  readonly del: readonly string[]
  readonly incr: readonly [string, number][]
}

export function encodeBatch(ops: BatchOps, limits: StoreLimits): EncodedBatch {
  const seen = new Set<string>()
  const claim = (key: string): void => {
    assertDataKey(key)
    if (seen.has(key)) throw new AppError('validation_failed', `key "${key}" appears more than once in the batch`)
    seen.add(key)
  }
  const set: [string, string][] = []
  for (const key of Object.keys(ops.set ?? {})) {
    claim(key)
    set.push([key, encodeValue(key, (ops.set as SessionData)[key] as JsonValue, limits)])
  }
  const del: string[] = []
  for (const key of ops.del ?? []) {
    claim(key)
    del.push(key)
  }
  const incr: [string, number][] = []
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

/**
 * The value an indexed key is filed under: a string as itself, a number or
 * boolean as its JSON text; other values (null, arrays, objects) are not indexed.
 */
export function indexText(text: string): string | null {
  const value = parseStoredValue(text)
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'boolean') return text
  return null
}

/** The metadata of a session created at `now` (version 1; authenticated iff a user is bound). */
export function initialMeta(input: CreateSessionInput, now: number): SessionMeta {
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

/** Idle expiry slides to now + idle, never past the absolute expiry. */
export function slideExpiry(now: number, idleTtlMs: number, absoluteExpiresAt: number): number {
  return Math.min(now + idleTtlMs, absoluteExpiresAt)
}

/** Whether a touching read refreshes expiry, given when the session was last refreshed. */
export function refreshDue(now: number, lastSeenAt: number, touchIntervalMs: number): boolean {
  return now - lastSeenAt >= touchIntervalMs
}

export function assertPrecondition(ifMatch: number | undefined, version: number): void {
  if (ifMatch !== undefined && ifMatch !== version) {
    throw new AppError('precondition_failed', `the session is at version ${version}, not ${ifMatch}`)
  }
}
