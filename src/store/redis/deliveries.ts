/**
 * The Redis backend's webhook delivery state (deliveries.ts): per shard, the
 * consumer group `webhooks` on the shard's events stream (XREADGROUP hands
 * out, XAUTOCLAIM re-takes, XACK acknowledges) and the lease key
 * `P{t}:webhook` (keys.ts). Leases, prepare, release and the oldest
 * undelivered event run over the shards as shards.ts groups them (one call
 * on a single node); the rest address one shard's stream.
 */
import type { Deliveries } from '../deliveries.js'
import type { EventId, StoredEvent } from '../events.js'
import { SHARDS, eventStreamKey } from './keys.js'
import { eventIdOf, list, storedEventOf, text } from './replies.js'
import { opt, type Run } from './scripts.js'
import type { Shards } from './shards.js'

const idText = (id: EventId): string => `${id.ms}-${id.seq}`

export function createRedisDeliveries(prefix: string, run: Run, shards: Shards): Deliveries {
  /** The stream of a shard given by its SHARDS position. */
  const streamOf = (shard: number): string => {
    const name = SHARDS[shard]
    if (name === undefined) throw new RangeError(`no shard ${shard}`)
    return eventStreamKey(prefix, name)
  }
  /** A reply of stream entries as events. */
  const eventsOf = (reply: unknown): StoredEvent[] => list(reply).map(storedEventOf)

  return {
    async prepare() {
      await shards.overShards('prepareDeliveries', SHARDS, () => [prefix])
    },

    async lease(consumer, leaseMs) {
      const replies = await shards.overShards('leaseShards', SHARDS, () => [prefix, consumer, leaseMs])
      const held = new Set(replies.flatMap(list).map(text))
      return SHARDS.flatMap((name, shard) => (held.has(name) ? [shard] : []))
    },

    // A count below 1 asks for nothing: XREADGROUP would read COUNT 0 as no limit, XAUTOCLAIM refuse it.
    async unacknowledged(shard, consumer, after, count) {
      const stream = streamOf(shard)
      return count < 1 ? [] : eventsOf(await run('unacknowledged', [stream], [consumer, after === null ? '' : opt(idText(after)), count]))
    },

    async handOut(shard, consumer, count) {
      const stream = streamOf(shard)
      return count < 1 ? [] : eventsOf(await run('handOut', [stream], [consumer, count]))
    },

    async acknowledge(shard, ids) {
      const stream = streamOf(shard)
      if (ids.length > 0) await run('acknowledge', [stream], ids.map(idText))
    },

    async oldestUndelivered() {
      const replies = await shards.overShards('oldestUndelivered', SHARDS, () => [prefix])
      const times = replies.flatMap(list).flatMap((id) => (id === null ? [] : [eventIdOf(id).ms]))
      return times.length === 0 ? null : Math.min(...times)
    },

    async release(consumer) {
      await shards.overShards('releaseShards', SHARDS, () => [prefix, consumer])
    }
  }
}
