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
import type { EndCause, EventId, StoredEvent } from './events.js'
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
  /** Who created it, for its event. */
  readonly actor: string
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

/**
 * The Store's methods, but for those whose inputs checked.ts encodes or
 * completes (the actor and reason of a change), destroy, which takes many
 * handles, counts, whose `without` checked.ts derives, and events, which
 * checked.ts merges from the shards' logs (events.ts). A backend records an
 * event in the same atomic step as its change, and only with `events` on.
 */
export interface Backend extends Omit<
  Store,
  'create' | 'setKey' | 'patch' | 'destroy' | 'rotate' | 'listUserSessions' | 'revokeUserSessions' | 'revokeByIndex' | 'countSessions' | 'readEvents'
> {
  create(input: EncodedCreate): Promise<SessionRecord>
  setKey(handle: string, entry: EncodedEntry, options: WriteOptions): Promise<number>
  patch(handle: string, batch: EncodedBatch, options: WriteOptions): Promise<SessionRecord>
  /** Ends the given sessions (any shards) for `cause`; resolves to how many of them were live (an expired one ends as `expired`). */
  destroy(handles: readonly string[], cause: EndCause): Promise<number>
  rotate(handle: string, newHandle: string, options: { userId?: string; actor: string }): Promise<SessionRecord>
  /** The user's live sessions, in any order (checked.ts sorts them). */
  listUserSessions(userId: string): Promise<SessionMeta[]>
  revokeUserSessions(userId: string, options: { exceptHandle?: string; actor: string }): Promise<number>
  revokeByIndex(key: string, value: string, actor: string): Promise<number>
  countSessions(byKey?: string): Promise<BackendCounts>
  /** Per shard (SHARDS order), up to `limit` events after its position (null: from the oldest kept), in id order. */
  readShardEvents(positions: readonly (EventId | null)[], limit: number): Promise<StoredEvent[][]>
  /** Per shard, the id of its newest event (null: none). */
  eventHeads(): Promise<(EventId | null)[]>
}
