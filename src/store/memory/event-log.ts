/**
 * The memory backend's lifecycle events: one log per shard, as the Redis
 * backend keeps one stream per shard, with the same ids (events.ts
 * nextEventId), trimmed by the retention when the store is swept.
 */
import { SHARDS, shardOf } from '../../tokens.js'
import { compareIds, nextEventId, type EventId, type StoredEvent } from '../events.js'

/** An event before its id is given. */
export type NewEvent = Omit<StoredEvent, 'id'>

export interface EventLog {
  /** Appends the event to its session's shard at `now`. */
  record(now: number, event: NewEvent): void
  /** Drops the events older than the retention at `now`; resolves to how many. */
  trim(now: number): number
  /** Up to `limit` events of each shard after its position. */
  after(positions: readonly (EventId | null)[], limit: number): StoredEvent[][]
  /** Up to `limit` events of one shard (a SHARDS position) after `position`. */
  inShard(shard: number, position: EventId | null, limit: number): StoredEvent[]
  /** The event of the shard with this id, unless trimmed. */
  find(shard: number, id: EventId): StoredEvent | undefined
  /** Each shard's newest id. */
  heads(): (EventId | null)[]
}

export function createEventLog(retentionMs: number): EventLog {
  const shards = new Map<string, StoredEvent[]>(SHARDS.map((shard) => [shard, []]))
  const logOf = (shard: string): StoredEvent[] => shards.get(shard) ?? []
  const logAt = (shard: number): StoredEvent[] => logOf(SHARDS[shard] ?? '')

  /** The index of the first event after `position` (binary search: ids only grow). */
  function firstAfter(log: readonly StoredEvent[], position: EventId | null): number {
    if (position === null) return 0
    let low = 0
    let high = log.length
    while (low < high) {
      const mid = (low + high) >>> 1
      if (compareIds((log[mid] as StoredEvent).id, position) <= 0) low = mid + 1
      else high = mid
    }
    return low
  }

  const inShard = (shard: number, position: EventId | null, limit: number): StoredEvent[] => {
    const log = logAt(shard)
    const from = firstAfter(log, position)
    return log.slice(from, from + limit)
  }

  return {
    record(now, event) {
      const log = logOf(shardOf(event.handle))
      log.push({ id: nextEventId(log.at(-1)?.id ?? null, now), ...event })
    },
    trim(now) {
      let trimmed = 0
      for (const log of shards.values()) {
        const expired = firstAfter(log, { ms: now - retentionMs, seq: -1 })
        log.splice(0, expired)
        trimmed += expired
      }
      return trimmed
    },
    after: (positions, limit) => SHARDS.map((_, shard) => inShard(shard, positions[shard] ?? null, limit)),
    inShard,
    find(shard, id) {
      const log = logAt(shard)
      const event = log[firstAfter(log, { ms: id.ms, seq: id.seq - 1 })]
      return event !== undefined && compareIds(event.id, id) === 0 ? event : undefined
    },
    heads: () => SHARDS.map((shard) => logOf(shard).at(-1)?.id ?? null)
  }
}
