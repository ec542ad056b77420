/**
 * What a backend (memory/, redis/) implements: storage only. checked.ts sits
 * in front of every backend and hands it inputs that are already validated
 * and encoded; the rules both backends must apply alike (key names, value
 * sizes, index eligibility, page sizes, cursors, the per-user limit, listing
 * order) run there, once. What a backend still decides is what needs its
 * stored state: whether the session is live, the session-wide limits, ifMatch,
 * increments, and the atomicity of each call. A backend may rely on what
 * checked.ts guarantees: indexed keys are indexed, a page's limit is a
 * positive integer and its cursor null or a handle, a rotation's new handle
 * is in the old one's shard.
 */
import type { CreateSessionInput, SessionMeta, SessionRecord, Store, WriteOptions } from './types.js'

/** An INDEXED_KEYS entry's name and a value a session is filed under for it (index-entries.ts). */
export type IndexPair = readonly [entry: string, value: string]

/** A data key, its value's JSON text, and what it files the session under: sorted, each pair once (none when not indexed). */
export interface EncodedEntry {
  readonly key: string
  readonly text: string
  readonly filed: readonly IndexPair[]
}

/** A create with its data encoded: one entry per key, with their total size against maxSessionBytes. */
export interface EncodedCreate extends Omit<CreateSessionInput, 'data'> {
  readonly entries: readonly EncodedEntry[]
  readonly bytes: number
}

/** A batch with every key checked and named once, every value encoded. */
export interface EncodedBatch {
  readonly set: readonly EncodedEntry[]
  readonly del: readonly string[]
  readonly incr: readonly (readonly [key: string, by: number])[]
}

/** Live sessions in total and per value of an entry, and how many are filed under at least one of its values (0 without an entry). */
export interface BackendCounts {
  readonly total: number
  readonly by: Readonly<Record<string, number>>
  readonly filed: number
}

/** The Store's methods, but for those whose inputs checked.ts encodes, destroy, which takes many handles, and counts, whose `without` checked.ts derives. */
export interface Backend extends Omit<Store, 'create' | 'setKey' | 'patch' | 'destroy' | 'listUserSessions' | 'countSessions'> {
  create(input: EncodedCreate): Promise<SessionRecord>
  setKey(handle: string, entry: EncodedEntry, options: WriteOptions): Promise<number>
  patch(handle: string, batch: EncodedBatch, options: WriteOptions): Promise<SessionRecord>
  /** Ends the given sessions (any shards); resolves to how many of them were live. */
  destroy(handles: readonly string[]): Promise<number>
  /** The user's live sessions, in any order (checked.ts sorts them). */
  listUserSessions(userId: string): Promise<SessionMeta[]>
  countSessions(byKey?: string): Promise<BackendCounts>
}
