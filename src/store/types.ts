/**
 * The Store contract. Every backend (memory, redis) implements it with the
 * same observable behaviour; test/store/conformance.ts is the executable form
 * of this file and runs against each of them.
 *
 * Conventions shared by every method:
 * - Times are milliseconds since the epoch, read from the store's `clock`.
 * - A session is live while `clock() < expiresAt` (expiresAt never exceeds
 *   absoluteExpiresAt). An expired, destroyed or unknown session behaves
 *   exactly as one that never existed: methods that address one throw
 *   AppError `session_not_found` (or `session_rotated` when its handle was
 *   rotated away less than ROTATION_GRACE_MS ago), and nothing is written.
 * - Data values are JSON values; they are stored as their JSON text, one
 *   field per key, so a write of one key never rewrites another.
 * - Limits are checked before anything is written (all-or-nothing):
 *   a bad key is `validation_failed`, and so is a value nested deeper than
 *   MAX_VALUE_DEPTH, a number not finite or beyond the safe integer range,
 *   and any string taken (value, member name, userId, userAgent, ip, index
 *   value) with a lone surrogate; a value over maxValueBytes, an indexed
 *   value over MAX_INDEX_VALUE_BYTES, more than maxKeys keys, or more than
 *   maxSessionBytes in all is `payload_too_large`.
 * - A userAgent is kept to its first 256 UTF-16 units, never half a pair.
 * - `version` starts at 1 and grows by exactly one on each write request
 *   that changes data (a set or incr always does; a del only when the key
 *   existed). `ifMatch` (a version) makes a write fail with
 *   `precondition_failed` and write nothing when the session has moved on.
 */

import type { Deliveries } from './deliveries.js'
import type { EventPage } from './events.js'

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue }

/** A null-prototype map of data key to value: `__proto__` is an ordinary key. */
export type SessionData = Record<string, JsonValue>

export interface SessionMeta {
  readonly handle: string
  readonly userId: string | null
  readonly version: number
  /** When a user was last bound (create or rotate with a userId); null when none is bound. */
  readonly authenticatedAt: number | null
  readonly createdAt: number
  /** The last use that refreshed the session (accurate to the touch interval). */
  readonly lastSeenAt: number
  readonly expiresAt: number
  readonly absoluteExpiresAt: number
  readonly userAgent: string | null
  readonly ip: string | null
}

export interface SessionRecord extends SessionMeta {
  readonly data: SessionData
}

/** A rotated-away handle answers `session_rotated` for this long, then `session_not_found`. */
export const ROTATION_GRACE_MS = 60_000

export interface StoreLimits {
  readonly maxValueBytes: number
  readonly maxKeys: number
  readonly maxSessionBytes: number
  /** Binding one more session to a user ends that user's least recently used session. null: unlimited. */
  readonly maxSessionsPerUser: number | null
  /** MAX_INDEX_VALUES: the most distinct values one INDEXED_KEYS entry may file a session under. */
  readonly maxIndexValues: number
}

export interface StoreOptions {
  readonly limits: StoreLimits
  /** INDEXED_KEYS entries (`tenant`, `tags[]`, `cart[].sku`, index-entries.ts) for listByIndex / revokeByIndex / countSessions. */
  readonly indexedKeys: readonly string[]
  /** A touching read refreshes expiry only when the last refresh is at least this old (0: always). */
  readonly touchIntervalMs: number
  /** Injected for tests; defaults to Date.now. */
  readonly clock?: () => number
  /** EVENTS=true: lifecycle events are recorded (events.ts); absent: nothing is. */
  readonly events?: EventOptions
}

export interface EventOptions {
  /** EVENTS_RETENTION: events are kept at least this long, and trimmed by the sweep after. */
  readonly retentionMs: number
}

/** What one sweep did: sessions it ended as expired, events it trimmed. */
export interface SweepOutcome {
  readonly expired: number
  readonly trimmed: number
}

/** Who made a change, for its events: an API key's name, `self` (a session's own credential) or `system` (the default). */
export interface ChangeOptions {
  readonly actor?: string
}

/** Why a destroy ends a session: `destroyed` (by handle, the default), `logout` (its own credential), `revoked` (as a device). */
export interface DestroyOptions extends ChangeOptions {
  readonly reason?: 'destroyed' | 'logout' | 'revoked'
}

export interface CreateSessionInput {
  /** base64url(SHA-256(token)): the token itself never reaches a store. */
  readonly handle: string
  readonly userId: string | null
  readonly data: SessionData
  readonly idleTtlMs: number
  readonly absoluteTtlMs: number
  readonly userAgent: string | null
  readonly ip: string | null
}

export interface AccessOptions {
  /**
   * true for credential-addressed use: slides expiry to min(now + idle,
   * absoluteExpiresAt) and sets lastSeenAt = now. On reads this happens only
   * when the last refresh is at least touchIntervalMs old; on writes always.
   * false for handle-addressed (administrative) access: expiry never moves.
   */
  readonly touch: boolean
}

export interface WriteOptions extends AccessOptions {
  readonly ifMatch?: number
}

/** An atomic batch; a key may appear in at most one of set / del / incr. */
export interface BatchOps {
  readonly set?: SessionData
  readonly del?: readonly string[]
  /** Adds a safe integer to an integer value (a missing key counts as 0); a non-integer is `conflict`. */
  readonly incr?: Readonly<Record<string, number>>
}

export interface KeyRead {
  /** undefined when the session is live but has no such key. */
  readonly value: JsonValue | undefined
  readonly version: number
}

export interface Page {
  readonly sessions: readonly SessionMeta[]
  /** Pass back to get the next page; null when there is none. */
  readonly nextCursor: string | null
}

export interface SessionCounts {
  /** Live sessions in the whole store. */
  readonly total: number
  /** Live sessions per value of the requested entry (values with none are left out); a session under several values counts under each. */
  readonly by: Readonly<Record<string, number>>
  /** Live sessions filed under no value of the requested entry; null without one. */
  readonly without: number | null
}

export interface Store {
  readonly kind: 'memory' | 'redis'

  /** Creates a session (version 1). A handle that already exists is `conflict`. */
  create(input: CreateSessionInput, change?: ChangeOptions): Promise<SessionRecord>

  /** Reads metadata and all data. */
  get(handle: string, options: AccessOptions): Promise<SessionRecord>

  /** Reads one key. */
  getKey(handle: string, key: string, options: AccessOptions): Promise<KeyRead>

  /** Sets one key; resolves to the new version. */
  setKey(handle: string, key: string, value: JsonValue, options: WriteOptions): Promise<number>

  /** Deletes one key (idempotent); resolves to the version after the call. */
  deleteKey(handle: string, key: string, options: WriteOptions): Promise<number>

  /** Applies a batch atomically and resolves to the whole session after it. */
  patch(handle: string, ops: BatchOps, options: WriteOptions): Promise<SessionRecord>

  /** Ends a session. Resolves to false when it was already gone (no error). */
  destroy(handle: string, change?: DestroyOptions): Promise<boolean>

  /**
   * Moves a live session to `newHandle` (same shard, see tokens.ts): data,
   * version and expiry kept; `userId`, when given, binds that user (moving the
   * session between user indexes) and sets authenticatedAt = now. The old
   * handle stops working at once and answers `session_rotated` for
   * ROTATION_GRACE_MS. Of two rotations of one handle exactly one succeeds.
   */
  rotate(handle: string, newHandle: string, options: { userId?: string } & ChangeOptions): Promise<SessionRecord>

  /** The user's live sessions, most recently seen first (data left out). */
  listUserSessions(userId: string): Promise<SessionMeta[]>

  /**
   * Ends every session of the user except `exceptHandle`; resolves to how
   * many were ended. Every session that existed when the call started, and
   * any rotation of it, is ended; none created after it resolved is touched.
   */
  revokeUserSessions(userId: string, options: { exceptHandle?: string } & ChangeOptions): Promise<number>

  /**
   * Live sessions whose indexed `key` has the value `value` (strings match
   * themselves, numbers and booleans their JSON text), ordered by handle.
   * Paging is stable: a session live throughout appears exactly once.
   * A key that is not indexed is `validation_failed`.
   */
  listByIndex(key: string, value: string, options: { limit: number; cursor: string | null }): Promise<Page>

  /** Ends every live session whose indexed `key` has `value`; resolves to how many. */
  revokeByIndex(key: string, value: string, change?: ChangeOptions): Promise<number>

  /** Counts live sessions, in total and (with `byKey`, an INDEXED_KEYS entry) per value and without one. */
  countSessions(byKey?: string): Promise<SessionCounts>

  /**
   * Lifecycle events after a cursor, oldest first, at most `limit`: `after`
   * null reads from the oldest kept, 'now' from the newest (none yet), a
   * nextCursor of an earlier page from there. A malformed cursor is
   * `validation_failed`, one older than the retention `events_expired`.
   * Without events every log is empty.
   */
  readEvents(after: string | null, limit: number): Promise<EventPage>

  /**
   * Ends every expired session, announcing each with events on, and trims
   * the events older than the retention: what the service's sweep timer runs
   * (src/store/sweeper.ts), on any number of instances at once.
   */
  sweepExpired(): Promise<SweepOutcome>

  /** Webhook delivery state shared by every instance (deliveries.ts); null without events. */
  readonly deliveries: Deliveries | null

  /** Resolves when the backend answers; rejects with `store_unavailable` otherwise. */
  ping(): Promise<void>

  /** Releases timers and connections. */
  close(): Promise<void>
}

export interface HostPort {
  readonly host: string
  readonly port: number
}

/** How to reach Redis: one server, a Sentinel-managed primary, or a Cluster. */
export type RedisConnection =
  | { readonly mode: 'single'; readonly url: string }
  | {
      readonly mode: 'sentinel'
      readonly sentinels: readonly HostPort[]
      readonly name: string
      readonly username: string | undefined
      readonly password: string | undefined
      readonly tls: boolean
    }
  | {
      readonly mode: 'cluster'
      readonly nodes: readonly HostPort[]
      readonly username: string | undefined
      readonly password: string | undefined
      readonly tls: boolean
    }

/** Which backend to run (STORE, REDIS_*). */
export type BackendSettings =
  | { readonly kind: 'memory' }
  | {
      readonly kind: 'redis'
      readonly connection: RedisConnection
      readonly keyPrefix: string
      readonly waitReplicas: number
    }

/** What createStore needs of the service's configuration (the Config satisfies it). */
export interface StoreSettings {
  readonly store: BackendSettings
  readonly storeTimeoutMs: number
  readonly limits: StoreLimits
  readonly indexedKeys: readonly string[]
  readonly session: { readonly touchIntervalSec: number }
  readonly events: EventSettings
}

/** EVENTS, EVENTS_RETENTION, EVENTS_EXPIRY_LAG. */
export interface EventSettings {
  readonly enabled: boolean
  readonly retentionSec: number
  readonly expiryLagSec: number
}
