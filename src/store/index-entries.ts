/**
 * INDEXED_KEYS entries (SPEC §2 "secondary indexes") and what a value files
 * a session under for each: `tenant` the value itself, `tags[]` each scalar
 * element of an array, `cart[].sku` the `sku` member of each object element.
 * Pure: config.ts checks entries with parseIndexEntry at start-up, and
 * rules.ts files every written value through indexPlan's entries, once for
 * both backends.
 */
import { AppError } from '../errors.js'
import { MAX_INDEX_VALUE_BYTES } from '../limits.js'
import type { IndexPair } from './backend.js'
import type { JsonValue } from './types.js'

export interface IndexEntry {
  /** As configured and as queried: `tenant`, `tags[]`, `cart[].sku`. */
  readonly name: string
  /** The data key whose value it reads. */
  readonly dataKey: string
  /** `value`: the value itself; `elements`: each element of an array; `members`: a member of each object element. */
  readonly form: 'value' | 'elements' | 'members'
  /** The member name of a `members` entry. */
  readonly member: string | null
}

/** A data key, then optionally `[]`, then optionally `.member`. */
const ENTRY_PATTERN = /^([A-Za-z0-9._:-]{1,128})(\[\](?:\.([A-Za-z0-9_-]{1,64}))?)?$/

export const INDEX_ENTRY_RULE = 'must be a data key, `key[]` (each element of an array) or `key[].member` (a member of each object element; 1-64 of A-Z a-z 0-9 _ -)'

/** The entry `name` describes, or null when it is malformed (`cart[].`, `cart[]x`, `cart[].a.b`, `[].sku`, `cart[][]`). */
export function parseIndexEntry(name: string): IndexEntry | null {
  const match = ENTRY_PATTERN.exec(name)
  if (match === null) return null
  const [, dataKey = '', collection, member] = match
  if (collection === undefined) return { name, dataKey, form: 'value', member: null }
  return { name, dataKey, form: member === undefined ? 'elements' : 'members', member: member ?? null }
}

/** The entries of INDEXED_KEYS by name and by the data key they read. */
export interface IndexPlan {
  readonly names: ReadonlySet<string>
  readonly byDataKey: ReadonlyMap<string, readonly IndexEntry[]>
}

export function indexPlan(names: readonly string[]): IndexPlan {
  const byDataKey = new Map<string, IndexEntry[]>()
  for (const name of names) {
    const entry = parseIndexEntry(name)
    if (entry === null) throw new Error(`INDEXED_KEYS: "${name}" ${INDEX_ENTRY_RULE}`)
    byDataKey.set(entry.dataKey, [...(byDataKey.get(entry.dataKey) ?? []), entry])
  }
  return { names: new Set(names), byDataKey }
}

/** A scalar as it is filed: a string as itself, a number or boolean as its JSON text; anything else is not filed. */
function filedText(value: JsonValue | undefined): string | null {
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'boolean') return JSON.stringify(value)
  return null
}

/** The texts `value` files a session under for `entry`, before deduplication. */
function textsOf(entry: IndexEntry, value: JsonValue): (string | null)[] {
  if (entry.form === 'value') return [filedText(value)]
  if (!Array.isArray(value)) return []
  if (entry.form === 'elements') return value.map(filedText)
  const member = entry.member ?? ''
  return value.map((element) =>
    element !== null && typeof element === 'object' && !Array.isArray(element) && Object.hasOwn(element, member) ? filedText(element[member]) : null
  )
}

/** The order of filed pairs: by entry, then by value. */
export function byPair(a: IndexPair, b: IndexPair): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1
  if (a[1] !== b[1]) return a[1] < b[1] ? -1 : 1
  return 0
}

/**
 * What writing `value` under `dataKey` files the session under, as (entry,
 * value) pairs sorted and each once; more than `maxValues` distinct values
 * for one entry, or a value over MAX_INDEX_VALUE_BYTES (more than a query
 * URL could name), is payload_too_large.
 */
export function indexPairs(plan: IndexPlan, dataKey: string, value: JsonValue, maxValues: number): IndexPair[] {
  const entries = plan.byDataKey.get(dataKey)
  if (entries === undefined) return []
  const pairs: IndexPair[] = []
  for (const entry of entries) {
    const values = new Set<string>()
    for (const text of textsOf(entry, value)) {
      if (text === null) continue
      if (Buffer.byteLength(text) > MAX_INDEX_VALUE_BYTES) {
        throw new AppError('payload_too_large', `"${entry.name}" would file the session under a value over ${MAX_INDEX_VALUE_BYTES} bytes, the most a query can name`)
      }
      values.add(text)
    }
    if (values.size > maxValues) {
      throw new AppError('payload_too_large', `"${entry.name}" would file the session under ${values.size} values, more than ${maxValues} (MAX_INDEX_VALUES)`)
    }
    for (const text of values) pairs.push([entry.name, text])
  }
  return pairs.sort(byPair)
}

/** Whether `name` is a `value` entry, the only form whose values a count can add up and an increment can change. */
export const isPlainEntry = (name: string): boolean => !name.includes('[')
