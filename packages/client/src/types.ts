/**
 * The wire types of sessiond's API (openapi.yaml), as a backend sees them.
 * Times are ISO-8601 UTC strings, exactly as the API sends them.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue }

/** Data keys to JSON values. */
export type SessionData = Record<string, JsonValue>

/** A session record without its data (device, user and index listings). */
export interface SessionSummary {
  readonly handle: string
  /** The bound user; null for an anonymous session. */
  readonly userId: string | null
  /** Grows by one on each data change; the ETag, for `ifMatch`. */
  readonly version: number
  /** When a user was last bound (create or rotate); null when none is bound. */
  readonly authenticatedAt: string | null
  readonly createdAt: string
  readonly lastSeenAt: string
  readonly expiresAt: string
  readonly absoluteExpiresAt: string
  readonly userAgent: string | null
  readonly ip: string | null
}

/** A session record with its data. `D` describes the data a caller expects (use Partial<...>: keys may be missing). */
export interface Session<D extends object = SessionData> extends SessionSummary {
  readonly data: D
}

/** One of the caller's user's sessions; `current` marks the caller's own. */
export interface Device extends SessionSummary {
  readonly current: boolean
}

/**
 * The caller's session credential, forwarded as it came from the browser or app:
 * the raw `Cookie` header (sessiond picks its own cookie out of it) or a token
 * (sent as `X-Session-Token`).
 */
export type Credential = { readonly cookie: string; readonly token?: never; readonly handle?: never } | { readonly token: string; readonly cookie?: never; readonly handle?: never }

/** A session addressed by its public handle: an administrative view that never extends the session. */
export interface HandleRef {
  readonly handle: string
  readonly cookie?: never
  readonly token?: never
}

/** How data operations address a session: by credential (counts as a use) or by handle. */
export type SessionRef = Credential | HandleRef

/** `If-Match`: a version as returned in `version` (sent as `"<version>"`), or `*` for any live session. */
export type IfMatch = number | '*'

export interface CreateSessionInput {
  readonly userId?: string
  readonly data?: Readonly<Record<string, unknown>>
  /** Seconds, 1 to the service's SESSION_IDLE_TTL (the default). */
  readonly idleTtl?: number
  /** Seconds, 1 to the service's SESSION_ABSOLUTE_TTL (the default). */
  readonly absoluteTtl?: number
  /** The browser's user agent, shown in device lists. */
  readonly userAgent?: string
  /** The browser's address. */
  readonly ip?: string
}

/** An atomic batch: a key may appear in only one of `set`, `del` and `incr`. */
export interface BatchOps {
  readonly set?: Readonly<Record<string, unknown>>
  readonly del?: readonly string[]
  readonly incr?: Readonly<Record<string, number>>
}

// ---------------------------------------------------------------- results

/** Every result carries the response's `Set-Cookie` values, for a backend to relay to the browser. */
export interface Relay {
  readonly setCookie: readonly string[]
}

export interface SessionResult<D extends object = SessionData> extends Relay {
  readonly session: Session<D>
  /** From the ETag; equals session.version. */
  readonly version: number
}

export interface CreatedResult<D extends object = SessionData> extends SessionResult<D> {
  /** The secret token: returned only on create and rotate. */
  readonly token: string
}

export type ValueResult<T> = Relay &
  ({ readonly found: true; readonly value: T; readonly version: number } | { readonly found: false; readonly value: undefined; readonly version: undefined })

export interface HasResult extends Relay {
  readonly found: boolean
  /** The session's version when the key was found. */
  readonly version: number | undefined
}

export interface WriteResult extends Relay {
  /** The session's version after the write (its new ETag). */
  readonly version: number
}

export interface AuthResult extends Relay {
  readonly handle: string
  readonly userId: string | null
}

export interface DevicesResult extends Relay {
  readonly sessions: readonly Device[]
}

export interface SessionListResult extends Relay {
  readonly sessions: readonly SessionSummary[]
}

export interface SessionPageResult extends SessionListResult {
  /** Pass back as `cursor` for the next page; null on the last one. */
  readonly nextCursor: string | null
}

export interface RevokedResult extends Relay {
  readonly revoked: number
}

export interface StatsResult extends Relay {
  readonly total: number
  readonly by: Readonly<Record<string, number>>
  /** With `by` only: live sessions filed under no value of that entry. */
  readonly without: number | undefined
}

/** A lifecycle event (`GET /v1/events`): never a token, never session data. */
export interface SessionEvent {
  readonly id: string
  readonly type: 'session.created' | 'session.rotated' | 'session.ended'
  /** ISO-8601 UTC. */
  readonly time: string
  readonly handle: string
  readonly userId: string | null
  readonly reason?: 'logout' | 'destroyed' | 'revoked' | 'evicted' | 'expired'
  readonly newHandle?: string
  /** The session's plain INDEXED_KEYS values. */
  readonly index: Readonly<Record<string, string>>
  /** The API key's name, `self` or `system`. */
  readonly actor: string
}

export interface EventPageResult extends Relay {
  readonly events: readonly SessionEvent[]
  /** Pass back as `after` for the events after these. */
  readonly nextCursor: string
}

export interface EventsQuery {
  /** `now`, or an earlier page's nextCursor; absent: the oldest event kept. */
  readonly after?: string
  /** Page size, 1-1000 (default 100). */
  readonly limit?: number
  /** Seconds (0-30) the service waits for an event while there is none. */
  readonly wait?: number
}

// ---------------------------------------------------------------- options

export interface CallOptions {
  /** Overrides the client's timeoutMs for this call. */
  readonly timeoutMs?: number
  /** Aborts the call (SessiondError `aborted`). */
  readonly signal?: AbortSignal
}

export interface WriteOptions extends CallOptions {
  readonly ifMatch?: IfMatch
}

export interface IndexQuery {
  /** An indexed data key (one of the service's INDEXED_KEYS). */
  readonly key: string
  readonly value: string
}

export interface IndexPageQuery extends IndexQuery {
  /** Page size, 1-1000 (default 100). */
  readonly limit?: number
  /** The previous page's nextCursor. */
  readonly cursor?: string | null
}
