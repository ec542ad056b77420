/**
 * zod schemas for everything that enters over HTTP. Parsed once at the edge
 * into typed values; nothing that fails here reaches the store.
 */
import { z } from 'zod'
import { AppError } from '../errors.js'
import { DATA_KEY_PATTERN, DATA_KEY_RULE } from '../limits.js'
import type { JsonValue, SessionData } from '../store/types.js'
import { HANDLE_PATTERN } from '../tokens.js'

export function parse<T>(schema: z.ZodType<T>, input: unknown, where: string): T {
  const result = schema.safeParse(input)
  if (result.success) return result.data
  const details = result.error.issues.map((i) => {
    const path = i.path.length > 0 ? `${where}.${i.path.map(String).join('.')}` : where
    return `${path}: ${i.message}`
  })
  throw new AppError('validation_failed', details.join('; '))
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * A map from a parsed JSON body, copied into a null-prototype object so that
 * `__proto__`, `constructor` and `prototype` stay ordinary keys (zod's own
 * record type would assign them onto a plain object). Values came from
 * JSON.parse, so they are JSON already; each key is checked here.
 */
function keyedMap<V>(isValue: (v: unknown) => v is V, valueRule: string) {
  return z.custom<Record<string, unknown>>(isPlainObject, 'must be an object').transform((obj, ctx) => {
    const out = Object.create(null) as Record<string, V>
    for (const [key, value] of Object.entries(obj)) {
      if (!DATA_KEY_PATTERN.test(key)) ctx.addIssue({ code: 'custom', path: [key], message: `key ${DATA_KEY_RULE}` })
      else if (!isValue(value)) ctx.addIssue({ code: 'custom', path: [key], message: valueRule })
      else out[key] = value
    }
    return out
  })
}

const anyJson = (v: unknown): v is JsonValue => v !== undefined
const safeInteger = (v: unknown): v is number => Number.isSafeInteger(v)
const dataMap = keyedMap(anyJson, 'must be a JSON value').transform((m): SessionData => m)

export const dataKey = z.string().regex(DATA_KEY_PATTERN, DATA_KEY_RULE)
export const handle = z.string().regex(HANDLE_PATTERN, 'must be a 43-character session handle')
export const userId = z.string().regex(/^[\x21-\x7e]{1,256}$/, 'must be 1-256 visible ASCII characters')

export const handleParams = z.object({ handle })
export const handleKeyParams = z.object({ handle, key: dataKey })
export const keyParams = z.object({ key: dataKey })

export function createSessionBody(maxIdleSec: number, maxAbsoluteSec: number) {
  return z.strictObject({
    userId: userId.optional(),
    data: dataMap.optional(),
    idleTtl: z.number().int().min(1).max(maxIdleSec).optional(),
    absoluteTtl: z.number().int().min(1).max(maxAbsoluteSec).optional(),
    // Cut to its first 256 units by the store (storedUserAgent), never inside a surrogate pair.
    userAgent: z.string().optional(),
    ip: z.union([z.ipv4(), z.ipv6()]).optional()
  })
}

/** `{value}` with any JSON value, null included; a missing `value` is an error. */
export const putValueBody = z
  .custom<{ value: unknown }>((v) => isPlainObject(v) && Object.hasOwn(v, 'value') && Object.keys(v).length === 1, 'must be an object with exactly one property, "value"')
  .transform((v) => v.value as JsonValue)

export const batchBody = z.strictObject({
  set: dataMap.optional(),
  del: z.array(dataKey).optional(),
  incr: keyedMap(safeInteger, 'must be a safe integer').optional()
})

/** If-Match: one strong `"<version>"`, or `*` (any existing session: no check). */
export function parseIfMatch(header: string | undefined): number | undefined {
  if (header === undefined || header.trim() === '*') return undefined
  const match = /^\s*"(\d{1,15})"\s*$/.exec(header)
  if (match === null) throw new AppError('validation_failed', 'If-Match must be one quoted version such as "3"')
  return Number(match[1])
}
