/**
 * A session as the memory backend holds it: the mutable state behind every
 * record, which index.ts reads and writes and only ever hands out as copies.
 */
import type { EncodedCreate, IndexPair } from '../backend.js'
import type { SessionData, SessionMeta } from '../types.js'

/** The mutable state of one session; never handed out (see snapshotMeta / snapshotRecord in index.ts). */
export interface Entry {
  handle: string
  userId: string | null
  version: number
  authenticatedAt: number | null
  readonly createdAt: number
  lastSeenAt: number
  expiresAt: number
  readonly absoluteExpiresAt: number
  readonly idleTtlMs: number
  readonly userAgent: string | null
  readonly ip: string | null
  /** Data key to its JSON text, as Redis keeps it. */
  readonly data: Map<string, string>
  /** Data key to what its value files the session under (only keys that file something), as Redis keeps it in `@m`. */
  readonly filed: Map<string, readonly IndexPair[]>
  /** data parsed and deeply frozen, shared by every record handed out until the next write; null when due to be rebuilt. */
  view: SessionData | null
  /** Sum of entryBytes over data, checked against maxSessionBytes. */
  bytes: number
}

/** A created session's entry: `meta`, a fresh object, extended in place (not spread) so that every entry has one shape. */
export function newEntry(meta: SessionMeta, input: EncodedCreate): Entry {
  const filed = new Map<string, readonly IndexPair[]>()
  for (const { key, filed: pairs } of input.entries) if (pairs.length > 0) filed.set(key, pairs)
  const data = new Map(input.entries.map(({ key, text }) => [key, text]))
  return Object.assign(meta, { idleTtlMs: input.idleTtlMs, data, filed, view: null, bytes: input.bytes })
}
