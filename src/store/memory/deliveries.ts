/**
 * The memory backend's webhook delivery state (deliveries.ts): per shard, what
 * the Redis backend's consumer group and lease key hold, over the shard's
 * event log, and the live consumers as the Redis registry key holds them.
 * Leases and registrations are counted on the store's clock.
 */
import { SHARDS } from '../../tokens.js'
import { fairShare, planLease, type Deliveries } from '../deliveries.js'
import { compareIds, type EventId, type StoredEvent } from '../events.js'
import type { EventLog } from './event-log.js'

interface ShardState {
  /** The newest event handed out (the group's last-delivered-id); undefined until prepared. */
  handedOut: EventId | null | undefined
  /** Handed out and not acknowledged, in id order. */
  pending: EventId[]
  lease: { consumer: string; until: number } | null
}

/** Runs a step of the store atomically at its clock's now (memory/index.ts atomically). */
export type Atomically = <T>(step: (now: number) => T) => Promise<T>

const ALL = SHARDS.map((_, shard) => shard)

export function createMemoryDeliveries(log: EventLog, atomically: Atomically): Deliveries {
  const states: ShardState[] = SHARDS.map(() => ({ handedOut: undefined, pending: [], lease: null }))
  /** Live consumers, until when (the Redis registry's scores). */
  const consumers = new Map<string, number>()
  const stateOf = (shard: number): ShardState => {
    const state = states[shard]
    if (state === undefined) throw new RangeError(`no shard ${shard}`)
    return state
  }
  /** The shard's pending events still in its log; the trimmed ones are forgotten. */
  const pendingEvents = (shard: number): StoredEvent[] => {
    const state = stateOf(shard)
    const kept: EventId[] = []
    const events: StoredEvent[] = []
    for (const id of state.pending) {
      const event = log.find(shard, id)
      if (event === undefined) continue
      kept.push(id)
      events.push(event)
    }
    state.pending = kept
    return events
  }

  return {
    prepare: () => atomically(() => {
      const heads = log.heads()
      states.forEach((state, shard) => {
        if (state.handedOut === undefined) state.handedOut = heads[shard] ?? null
      })
    }),

    lease: (consumer, leaseMs, busy = []) => atomically((now) => {
      for (const [name, until] of consumers) if (until <= now) consumers.delete(name)
      consumers.set(consumer, now + leaseMs)
      const holderOf = (shard: number): string | null => {
        const { lease } = stateOf(shard)
        return lease !== null && lease.until > now ? lease.consumer : null
      }
      const held = ALL.filter((shard) => holderOf(shard) === consumer)
      const free = ALL.filter((shard) => holderOf(shard) === null)
      const plan = planLease(held, free, fairShare(consumers.size), busy)
      for (const shard of [...held, ...plan.take]) stateOf(shard).lease = { consumer, until: now + leaseMs }
      for (const shard of plan.release) stateOf(shard).lease = null
      return ALL.filter((shard) => holderOf(shard) === consumer)
    }),

    unacknowledged: (shard, _consumer, after, count) => atomically(() =>
      pendingEvents(shard).filter((event) => after === null || compareIds(event.id, after) > 0).slice(0, count)
    ),

    handOut: (shard, _consumer, count) => atomically(() => {
      const state = stateOf(shard)
      const events = log.inShard(shard, state.handedOut ?? null, count)
      const last = events.at(-1)
      if (last !== undefined) state.handedOut = last.id
      state.pending.push(...events.map((event) => event.id))
      return events
    }),

    acknowledge: (shard, ids) => atomically(() => {
      const state = stateOf(shard)
      state.pending = state.pending.filter((pending) => !ids.some((id) => compareIds(id, pending) === 0))
    }),

    oldestUndelivered: () => atomically(() => {
      let oldest: number | null = null
      states.forEach((state, shard) => {
        const first = [pendingEvents(shard)[0], log.inShard(shard, state.handedOut ?? null, 1)[0]]
        for (const event of first) if (event !== undefined && (oldest === null || event.id.ms < oldest)) oldest = event.id.ms
      })
      return oldest
    }),

    release: (consumer) => atomically(() => {
      consumers.delete(consumer)
      for (const state of states) if (state.lease?.consumer === consumer) state.lease = null
    })
  }
}
