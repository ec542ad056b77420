/**
 * Lifecycle events (SPEC §2 "events"): what both backends record and how a
 * reader pages through them. Each backend keeps one log per shard (Redis: the
 * stream `P{t}:events`, memory: an array), whose ids are `ms-seq` from the
 * recording call's clock, never before the shard's last id. A reader merges
 * the 64 logs in (ms, seq, shard) order; its cursor says, per shard, the last
 * id it has seen, and when it was issued, so that one older than the
 * retention is refused rather than silently skipping trimmed events.
 */
import { AppError } from '../errors.js'
import type { IndexPair } from './backend.js'
import { SHARDS } from '../tokens.js'
import { isPlainEntry } from './index-entries.js'

export const EVENT_TYPES = ['session.created', 'session.rotated', 'session.ended'] as const
export type EventType = (typeof EVENT_TYPES)[number]
export type EndReason = 'logout' | 'destroyed' | 'revoked' | 'evicted' | 'expired'

/** Who made a change: an API key's name, `self` (the session's own credential) or `system` (expiry, eviction). */
export const SYSTEM_ACTOR = 'system'


/** A position in one shard's log. */
export interface EventId {
  readonly ms: number
  readonly seq: number
}

/** An event as a shard's log holds it. */
export interface StoredEvent {
  readonly id: EventId
  readonly type: EventType
  readonly handle: string
  readonly userId: string | null
  readonly reason: EndReason | null
  readonly newHandle: string | null
  readonly index: Readonly<Record<string, string>>
  readonly actor: string
}

/** An event as a reader gets it; `time` (ms) is when it was recorded. */
export interface LifecycleEvent {
  readonly id: string
  readonly type: EventType
  readonly time: number
  readonly handle: string
  readonly userId: string | null
  readonly reason?: EndReason
  readonly newHandle?: string
  readonly index: Readonly<Record<string, string>>
  readonly actor: string
}

export interface EventPage {
  readonly events: readonly LifecycleEvent[]
  readonly nextCursor: string
  /** The cursor after each event (a Server-Sent Events `id:`): resuming from it returns the rest. */
  readonly cursors: readonly string[]
}

/** Per shard (tokens.ts SHARDS order: a shard is its position in it), the last id a reader has seen; null: none yet. */
export type EventPositions = readonly (EventId | null)[]

/** What the events of a change say besides the session: who made it and, for an end, why. */
export interface EndCause {
  readonly actor: string
  readonly reason: EndReason
}

export const compareIds = (a: EventId, b: EventId): number => a.ms - b.ms || a.seq - b.seq

/** The id an event recorded at `now` gets after the shard's `last`: never before it, so a shard's log only grows. */
export function nextEventId(last: EventId | null, now: number): EventId {
  if (last === null || last.ms < now) return { ms: now, seq: 0 }
  return { ms: last.ms, seq: last.seq + 1 }
}

/** The plain INDEXED_KEYS values of filed pairs (`tenant`, not `tags[]`): what an event names of a session's index. */
export function plainIndex(pairs: Iterable<IndexPair>): Record<string, string> {
  const index: Record<string, string> = {}
  for (const [entry, value] of pairs) if (isPlainEntry(entry)) index[entry] = value
  return index
}

/** The merged order of the shards' logs: by id, then by shard. */
interface Located {
  readonly shard: number
  readonly event: StoredEvent
}

const byMergedOrder = (a: Located, b: Located): number => compareIds(a.event.id, b.event.id) || a.shard - b.shard

export const publicEvent = (shard: number, event: StoredEvent): LifecycleEvent => ({
  id: `${event.id.ms}-${event.id.seq}-${SHARDS[shard] ?? ''}`,
  type: event.type,
  time: event.id.ms,
  handle: event.handle,
  userId: event.userId,
  ...(event.reason === null ? {} : { reason: event.reason }),
  ...(event.newHandle === null ? {} : { newHandle: event.newHandle }),
  index: event.index,
  actor: event.actor
})

/** Where a reader stands: when its cursor was issued (no event after it is older) and each shard's last id seen. */
export interface CursorState {
  readonly issuedAt: number
  readonly positions: EventPositions
}

/** How many events a read first asks each shard for: enough for a page when events are spread over the shards. */
export const firstShardCount = (limit: number): number => Math.min(limit, Math.max(8, Math.ceil(limit / 16)))

/**
 * One page from each shard's events after its position (each in id order,
 * at most `count`, as the backend read them at `now`): the first `limit` in
 * merged order that no unread event can precede (a full shard page may hold
 * more after its last), and the cursor after them. `short` says that fewer
 * than `limit` were certain while some shard page was full: read again with
 * a larger count. The cursor's issuedAt is the oldest undelivered event read
 * (or a lower bound of it: a full shard page's last), else now, so that a
 * cursor is refused once any event it has still to deliver may have been
 * trimmed.
 */
export function mergePage(
  state: CursorState,
  perShard: readonly (readonly StoredEvent[])[],
  count: number,
  limit: number,
  now: number
): EventPage & { short: boolean } {
  const all: Located[] = perShard.flatMap((events, shard) => events.map((event) => ({ shard, event })))
  all.sort(byMergedOrder)
  let boundary: Located | null = null
  let issuedAt = now
  perShard.forEach((events, shard) => {
    const last = events.at(-1)
    if (events.length < count || last === undefined) return
    issuedAt = Math.min(issuedAt, last.id.ms)
    const located = { shard, event: last }
    if (boundary === null || byMergedOrder(located, boundary) < 0) boundary = located
  })
  const certain = boundary === null ? all : all.filter((located) => byMergedOrder(located, boundary as Located) <= 0)
  const taken = certain.slice(0, limit)
  for (const { event } of all.slice(taken.length)) issuedAt = Math.min(issuedAt, event.id.ms)
  // The cursor after each event: what it and those before it moved, and no later than the next one's time.
  const positions = [...state.positions]
  const cursors = taken.map(({ shard, event }, i) => {
    positions[shard] = event.id
    const next = taken[i + 1]
    return encodeCursor({ issuedAt: next === undefined ? issuedAt : Math.min(issuedAt, next.event.id.ms), positions })
  })
  return {
    events: taken.map(({ shard, event }) => publicEvent(shard, event)),
    nextCursor: cursors.at(-1) ?? encodeCursor({ issuedAt, positions }),
    cursors,
    short: boundary !== null && taken.length < limit && count < limit
  }
}

/** The cursor of a reader that has seen nothing: every shard from its start. */
export const startState = (now: number): CursorState => ({ issuedAt: now, positions: SHARDS.map(() => null) })

// A cursor is base64url of: version 1; issuedAt (6 bytes, big-endian); per
// shard a varint 0 (no position) or 1 + zigzag(issuedAt - ms), then, for a
// position, a varint of its seq. Positions sit near issuedAt, so most take
// 3-5 bytes: a cursor is about 300 characters with every shard seen.
const CURSOR_VERSION = 1

function pushVarint(bytes: number[], n: number): void {
  let rest = n
  while (rest >= 0x80) {
    bytes.push((rest % 0x80) + 0x80)
    rest = Math.floor(rest / 0x80)
  }
  bytes.push(rest)
}

const zigzag = (n: number): number => (n >= 0 ? n * 2 : -n * 2 - 1)
const unzigzag = (n: number): number => (n % 2 === 0 ? n / 2 : -(n + 1) / 2)

export function encodeCursor({ issuedAt, positions }: CursorState): string {
  const bytes = [CURSOR_VERSION]
  for (let i = 5; i >= 0; i--) bytes.push(Math.floor(issuedAt / 256 ** i) % 256)
  for (const position of positions) {
    if (position === null) {
      bytes.push(0)
      continue
    }
    pushVarint(bytes, zigzag(issuedAt - position.ms) + 1)
    pushVarint(bytes, position.seq)
  }
  return Buffer.from(bytes).toString('base64url')
}

const badCursor = (): AppError => new AppError('validation_failed', 'query.after: is not a cursor of this event stream')

/** A cursor's state; anything but a cursor encodeCursor made is validation_failed. */
export function decodeCursor(cursor: string): CursorState {
  if (!/^[A-Za-z0-9_-]{1,2048}$/.test(cursor)) throw badCursor()
  const bytes = Buffer.from(cursor, 'base64url')
  let at = 0
  const byte = (): number => {
    const value = bytes[at++]
    if (value === undefined) throw badCursor()
    return value
  }
  const varint = (): number => {
    let n = 0
    for (let scale = 1; ; scale *= 0x80) {
      const b = byte()
      n += (b % 0x80) * scale
      if (b < 0x80) return n
      if (scale > 2 ** 42) throw badCursor()
    }
  }
  if (byte() !== CURSOR_VERSION) throw badCursor()
  let issuedAt = 0
  for (let i = 0; i < 6; i++) issuedAt = issuedAt * 256 + byte()
  const positions: (EventId | null)[] = []
  for (let shard = 0; shard < SHARDS.length; shard++) {
    const head = varint()
    positions.push(head === 0 ? null : { ms: issuedAt - unzigzag(head - 1), seq: varint() })
  }
  if (at !== bytes.length || encodeCursor({ issuedAt, positions }) !== cursor) throw badCursor()
  return { issuedAt, positions }
}

/** The most events one read returns. */
export const MAX_EVENTS_PAGE = 1000

export function assertEventLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_EVENTS_PAGE) {
    throw new AppError('validation_failed', `limit must be an integer from 1 to ${MAX_EVENTS_PAGE}`)
  }
}

/** A decoded cursor that may still be read: one issued before the retention is `events_expired`. */
export function assertFresh(state: CursorState, now: number, retentionMs: number): void {
  if (state.issuedAt < now - retentionMs) {
    throw new AppError('events_expired', 'the cursor is older than the event retention: events after it may have been trimmed')
  }
}
