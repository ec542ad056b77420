/**
 * What a backend (memory/, redis/) implements: storage only. checked.ts sits
 * in front of every backend and hands it inputs that are already validated
 * and encoded; the rules both backends must apply alike (key names, value
 * sizes, index eligibility, page sizes, cursors, the per-user limit, listing
 * order) run there, once. What a backend still decides is what needs its
 * stored state: whether the session is live, the session-wide limits, ifMatch,
 * increments, and the atomicity of each call.
 */
import type {
  AccessOptions,
  CreateSessionInput,
  KeyRead,
  Page,
  SessionCounts,
  SessionMeta,
  SessionRecord,
  WriteOptions
} from './types.js'

/** A data key, its value's JSON text, and the value it is filed under in its index (null: not filed). */
export interface EncodedEntry {
  readonly key: string
  readonly text: string
  readonly indexValue: string | null
}

/** A create with its data encoded: entries in key order, with their total size against maxSessionBytes. */
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

export interface Backend {
  readonly kind: 'memory' | 'redis'
  create(input: EncodedCreate): Promise<SessionRecord>
  get(handle: string, options: AccessOptions): Promise<SessionRecord>
  getKey(handle: string, key: string, options: AccessOptions): Promise<KeyRead>
  setKey(handle: string, entry: EncodedEntry, options: WriteOptions): Promise<number>
  deleteKey(handle: string, key: string, options: WriteOptions): Promise<number>
  patch(handle: string, batch: EncodedBatch, options: WriteOptions): Promise<SessionRecord>
  /** Ends the given sessions (any shards); resolves to how many of them were live. */
  destroy(handles: readonly string[]): Promise<number>
  /** newHandle is in handle's shard (checked.ts makes sure). */
  rotate(handle: string, newHandle: string, options: { userId?: string }): Promise<SessionRecord>
  /** The user's live sessions, in any order (checked.ts sorts them). */
  listUserSessions(userId: string): Promise<SessionMeta[]>
  revokeUserSessions(userId: string, options: { exceptHandle?: string }): Promise<number>
  /** `key` is indexed, `limit` a positive integer, `cursor` null or a handle. */
  listByIndex(key: string, value: string, options: { limit: number; cursor: string | null }): Promise<Page>
  revokeByIndex(key: string, value: string): Promise<number>
  /** `byKey`, when given, is indexed. */
  countSessions(byKey?: string): Promise<SessionCounts>
  ping(): Promise<void>
  close(): Promise<void>
}
