/**
 * Webhook delivery state (SPEC §2 "webhooks"), kept by the backend beside the
 * events it delivers, so that any number of instances share it: per shard, a
 * lease naming the one consumer (instance) that delivers that shard's events
 * now, which events were handed out, and which of those are not acknowledged
 * yet. On Redis this is a consumer group on each shard's stream (XREADGROUP,
 * XAUTOCLAIM, XACK) and a lease key in the shard's slot; on memory the same,
 * in the process.
 *
 * One consumer at a time per shard is what keeps a session's events in order:
 * every event of a session (rotations included) is in its shard's log, and
 * the lease holder delivers them in id order. A consumer that takes over a
 * shard first re-takes what its previous holder left unacknowledged, older
 * than anything not handed out yet. Shards are SHARDS positions (0-63).
 */
import type { EventId, StoredEvent } from './events.js'

export interface Deliveries {
  /**
   * Starts delivery state at each shard's newest event, where there is none
   * yet (idempotent): events recorded before webhooks were first configured
   * are not delivered.
   */
  prepare(): Promise<void>
  /**
   * Renews this consumer's leases and takes free or expired ones, each for
   * `leaseMs`; resolves to the shards it holds afterwards, in order.
   */
  lease(consumer: string, leaseMs: number): Promise<number[]>
  /**
   * Up to `count` of the shard's events that were handed out (to any
   * consumer) and not acknowledged, after `after` (exclusive; null: from the
   * first), in id order, now this consumer's. Fewer than `count`: no more.
   * Events trimmed by the retention meanwhile are left out, and forgotten.
   */
  unacknowledged(shard: number, consumer: string, after: EventId | null, count: number): Promise<StoredEvent[]>
  /** Up to `count` of the shard's events never handed out, in id order, now handed to this consumer. */
  handOut(shard: number, consumer: string, count: number): Promise<StoredEvent[]>
  /** The events are done with: delivered, dropped, or not for the webhook. */
  acknowledge(shard: number, ids: readonly EventId[]): Promise<void>
  /** When the oldest event not handed out or not acknowledged was recorded (ms), or null when none waits. */
  oldestUndelivered(): Promise<number | null>
  /** Gives up this consumer's leases, so that another takes its shards over at once. */
  release(consumer: string): Promise<void>
}
