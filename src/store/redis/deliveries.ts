/**
 * The Redis backend's webhook delivery state (deliveries.ts): per shard, the
 * consumer group `webhooks` on the shard's events stream (XREADGROUP hands
 * out, XAUTOCLAIM re-takes, XACK acknowledges) and the lease key
 * `P{t}:webhook` (keys.ts), and the live consumers in `Pwebhook:consumers`.
 * Leases, prepare, release and the oldest undelivered event run over the
 * shards as shards.ts groups them (one call on a single node); the rest
 * address one shard's stream. A lease is steps, since on Cluster the
 * registry and the shards live in different slots: register and count the
 * live consumers; renew and see which shards are free; give up the excess or
 * take free ones (only when there is any to move), each take settled per
 * shard by its script.
 */
import { fairShare, planLease, type Deliveries } from '../deliveries.js'
import type { EventId, StoredEvent } from '../events.js'
import { SHARDS, eventStreamKey, webhookConsumersKey } from './keys.js'
import { eventIdOf, list, num, storedEventOf, text } from './replies.js'
import { opt, type Run } from './scripts.js'
import type { Shards } from './shards.js'

const idText = (id: EventId): string => `${id.ms}-${id.seq}`
/** deliveries-lease.lua's reply per shard: the caller's (renewed), or free. */
const HELD = 1
const FREE = 0

export function createRedisDeliveries(prefix: string, run: Run, shards: Shards): Deliveries {
  /** A shard's name (its hash tag) by its SHARDS position. */
  const nameOf = (shard: number): string => {
    const name = SHARDS[shard]
    if (name === undefined) throw new RangeError(`no shard ${shard}`)
    return name
  }
  /** The stream of a shard given by its SHARDS position. */
  const streamOf = (shard: number): string => eventStreamKey(prefix, nameOf(shard))
  const registry = webhookConsumersKey(prefix)
  /** A reply of stream entries as events. */
  const eventsOf = (reply: unknown): StoredEvent[] => list(reply).map(storedEventOf)

  return {
    async prepare() {
      await shards.overShards('prepareDeliveries', SHARDS, () => [prefix])
    },

    async lease(consumer, leaseMs, busy = []) {
      const live = num(await run('registerConsumer', [registry], [consumer, leaseMs]))
      const states = (await shards.overShards('leaseShards', SHARDS, () => [prefix, consumer, leaseMs])).flatMap(list).map(num)
      const positions = (state: number): number[] => SHARDS.flatMap((_, shard) => (states[shard] === state ? [shard] : []))
      const held = positions(HELD)
      const plan = planLease(held, positions(FREE), fairShare(live), busy)
      if (plan.release.length > 0) {
        await shards.overShards('releaseShards', plan.release.map(nameOf), () => [prefix, consumer])
        const released = new Set(plan.release)
        return held.filter((shard) => !released.has(shard))
      }
      if (plan.take.length === 0) return held
      const replies = await shards.overShards('takeShards', plan.take.map(nameOf), () => [prefix, consumer, leaseMs])
      const taken = new Set(replies.flatMap(list).map(text))
      return SHARDS.flatMap((name, shard) => (held.includes(shard) || taken.has(name) ? [shard] : []))
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
      await run('registerConsumer', [registry], [consumer, 0])
    }
  }
}
